//! [`Fleet`]: the handle of one replica's agent, and [`Attachment`], one attached breaker.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::channel;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_breaker::remote::Coordinated;
use async_breaker::{CircuitBreaker, Monitor, Registry};

use crate::agent::{Agent, Inbox, Input, Memberships, Settings};
use crate::keys::{channel as channel_name, check_breaker_name, stop_channel};
use crate::link::{Link, Rules};
use crate::stats::Counters;
use crate::subscriber::Subscriber;
use crate::target::{Spec, Target};
use crate::{FleetBuilder, FleetError, FleetStats, Membership};

/// One replica's membership in a fleet: a background agent (two OS threads, blocking redis
/// client) that keeps the attached breakers in step with every other replica's.
///
/// Dropping the `Fleet` shuts it down like [`Fleet::shutdown`].
///
/// ```no_run
/// use std::sync::Arc;
/// use async_breaker::CircuitBreaker;
/// use async_breaker_fleet::Fleet;
///
/// let fleet = Fleet::builder("redis://127.0.0.1:6379/").namespace("shop").build()?;
/// let payments = Arc::new(CircuitBreaker::builder().name("payments").build()?);
/// let _attached = fleet.attach(&payments)?; // detached again when dropped
/// // ... use `payments` exactly as before: calls never touch the network ...
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Fleet {
    tx: Inbox,
    attached: Arc<Mutex<HashMap<String, u64>>>,
    next_id: AtomicU64,
    counters: Arc<Counters>,
    memberships: Memberships,
    settings: Settings,
    #[cfg(feature = "metrics")]
    export: Option<Arc<crate::export::Exported>>,
    stop: Arc<AtomicBool>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("namespace", &self.settings.namespace)
            .field("replica_id", &self.settings.replica)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Fleet {
    /// Starts configuring a fleet on the server at `url`: `redis://[user:password@]host:port/db`,
    /// `rediss://...` (TLS, feature `tls`) or `redis+unix:///path`.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// assert_eq!(fleet.namespace(), "async-breaker");
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn builder(url: impl Into<String>) -> FleetBuilder {
        FleetBuilder::new(Spec::Node(url.into()))
    }

    /// Starts configuring a fleet on a Redis Cluster, given some of its nodes' URLs (any
    /// primaries or replicas: the agent reads the slot map from the first that answers). Each
    /// breaker's keys share one hash slot; the agent follows `MOVED` and `ASK` redirections,
    /// slot migrations and failovers. Messages travel on the namespace's channel, which a
    /// Cluster delivers to subscribers on every node.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::cluster([
    ///     "redis://10.0.0.1:7000/",
    ///     "redis://10.0.0.2:7000/",
    ///     "redis://10.0.0.3:7000/",
    /// ])
    /// .namespace("shop")
    /// .build()?;
    /// # drop(fleet);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn cluster<I, S>(nodes: I) -> FleetBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FleetBuilder::new(Spec::Cluster(nodes.into_iter().map(Into::into).collect()))
    }

    /// Starts configuring a fleet on the primary that Redis Sentinel monitors as `service`,
    /// given the sentinels' URLs. The agent asks the sentinels which node is the primary each
    /// time it connects, so after a failover it reconnects to the new one. The primary's own
    /// credentials: [`FleetBuilder::sentinel_primary`].
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::sentinel(
    ///     ["redis://10.0.0.1:26379/", "redis://10.0.0.2:26379/", "redis://10.0.0.3:26379/"],
    ///     "mymaster",
    /// )
    /// .build()?;
    /// # drop(fleet);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn sentinel<I, S>(sentinels: I, service: impl Into<String>) -> FleetBuilder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        FleetBuilder::new(Spec::Sentinel {
            sentinels: sentinels.into_iter().map(Into::into).collect(),
            service: service.into(),
            primary: redis::RedisConnectionInfo::default(),
        })
    }

    pub(crate) fn start(
        target: Target,
        settings: Settings,
        timeout: Duration,
        max_backoff: Duration,
    ) -> Result<Fleet, FleetError> {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = channel();
        let channel = channel_name(&settings.namespace);
        let target = Arc::new(target);
        let rules = Rules {
            replica: settings.replica.clone(),
            expiry: settings.member_expiry(),
            quorum: settings.quorum,
            window: settings.vote_window,
            grace: settings.grace(),
        };
        let link = Link::new(
            Arc::clone(&target),
            timeout,
            max_backoff,
            channel.clone(),
            rules,
            Arc::clone(&counters),
        );
        let memberships = Memberships::default();
        let agent = Agent::new(
            settings.clone(),
            link,
            Arc::clone(&counters),
            Arc::clone(&memberships),
            rx,
        );
        #[cfg(feature = "metrics")]
        let export = settings.export.then(|| {
            Arc::new(crate::export::Exported::register(
                &settings.namespace,
                &settings.replica,
            ))
        });
        #[cfg(feature = "metrics")]
        let agent = agent.exporting(export.clone());
        let agent = std::thread::Builder::new()
            .name("fleet-agent".into())
            .spawn(move || agent.run())
            .map_err(FleetError::Spawn)?;
        let tx = Inbox::new(tx, agent.thread().clone());
        let subscriber = Subscriber {
            target: Arc::clone(&target),
            channel: channel.clone(),
            stop_channel: stop_channel(&settings.namespace, &settings.replica),
            timeout,
            idle: settings.reconcile.min(Duration::from_secs(5)),
            max_backoff,
            to_agent: tx.clone(),
            stop: Arc::clone(&stop),
            counters: Arc::clone(&counters),
        };
        let fleet = Fleet {
            tx,
            attached: Arc::default(),
            next_id: AtomicU64::new(0),
            counters,
            memberships,
            settings,
            #[cfg(feature = "metrics")]
            export,
            stop,
            threads: Mutex::new(vec![agent]),
        };
        let subscriber = std::thread::Builder::new()
            .name("fleet-subscriber".into())
            .spawn(move || subscriber.run())
            .map_err(FleetError::Spawn)?;
        fleet.lock_threads().push(subscriber);
        Ok(fleet)
    }

    fn lock_threads(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.threads.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Attaches a breaker (any classifier) to the fleet under its name. From now on the
    /// breaker's trips open every replica's breaker of that name, and only one replica probes.
    /// The breaker's own call path is unchanged. Detached when the returned [`Attachment`] is
    /// dropped (or see [`Attachment::keep`]).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::CircuitBreaker;
    /// use async_breaker_fleet::{Fleet, FleetError};
    ///
    /// let fleet = Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// let db = Arc::new(CircuitBreaker::builder().name("db").build()?);
    /// let attachment = fleet.attach(&db)?;
    /// assert!(matches!(fleet.attach(&db), Err(FleetError::AlreadyAttached(_))));
    /// drop(attachment);
    /// let _again = fleet.attach(&db)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`FleetError::BreakerName`] when the name cannot name keys, [`FleetError::AlreadyAttached`],
    /// [`FleetError::ReconcileTooSlow`] when the breaker's probe deadline is shorter than twice
    /// the reconcile interval, and [`FleetError::ShutDown`].
    pub fn attach<C: Send + Sync + 'static>(
        &self,
        breaker: &Arc<CircuitBreaker<C>>,
    ) -> Result<Attachment, FleetError> {
        self.attach_dyn(Arc::clone(breaker) as Arc<dyn Coordinated>)
    }

    /// [`attach`](Self::attach) for a breaker held as a trait object, whatever its classifier:
    /// for a coordinator's own collections of breakers of several classifier types.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::remote::Coordinated;
    /// use async_breaker::CircuitBreaker;
    ///
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// let search: Arc<dyn Coordinated> = Arc::new(
    ///     CircuitBreaker::builder()
    ///         .name("search")
    ///         .failure_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)
    ///         .build()?,
    /// );
    /// fleet.attach_dyn(search)?.keep();
    /// assert!(fleet.detach("search"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`attach`](Self::attach).
    pub fn attach_dyn(&self, member: Arc<dyn Coordinated>) -> Result<Attachment, FleetError> {
        self.attach_member(member)
    }

    /// Attaches one breaker a [`Registry`] holds (as [`Registry::get`] returns it), whatever
    /// its classifier.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::{CircuitBreaker, Registry};
    ///
    /// let registry = Registry::new();
    /// registry.register(Arc::new(CircuitBreaker::builder().name("db").build()?))?;
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// let db = registry.get("db").expect("registered");
    /// let _attached = fleet.attach_monitor(&db)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`attach`](Self::attach), and [`FleetError::NotABreaker`] for a [`Monitor`] of your
    /// own that is not an `async_breaker::CircuitBreaker`.
    pub fn attach_monitor(&self, monitor: &Arc<dyn Monitor>) -> Result<Attachment, FleetError> {
        match Arc::clone(monitor).coordinated() {
            Some(member) => self.attach_member(member),
            None => Err(FleetError::NotABreaker(monitor.name().to_owned())),
        }
    }

    /// Attaches every breaker `registry` holds now, whatever their classifiers: all or none
    /// (on an error, those attached by this call are detached again).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_breaker::{CircuitBreaker, Registry};
    ///
    /// let registry = Registry::new();
    /// registry.register(Arc::new(CircuitBreaker::builder().name("db").build()?))?;
    /// registry.register(Arc::new(
    ///     CircuitBreaker::builder()
    ///         .name("search")
    ///         .failure_if(|e: &std::io::Error| e.kind() == std::io::ErrorKind::TimedOut)
    ///         .build()?,
    /// ))?;
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// let attached = fleet.attach_registry(&registry)?;
    /// assert_eq!(attached.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// The first error of [`attach_monitor`](Self::attach_monitor).
    pub fn attach_registry(&self, registry: &Registry) -> Result<Vec<Attachment>, FleetError> {
        registry
            .all()
            .iter()
            .map(|monitor| self.attach_monitor(monitor))
            .collect()
    }

    fn attach_member(&self, member: Arc<dyn Coordinated>) -> Result<Attachment, FleetError> {
        let name = member.name().to_owned();
        check_breaker_name(&name)?;
        let probe_deadline = member.probe_deadline();
        if self.settings.reconcile * 2 > probe_deadline {
            return Err(FleetError::ReconcileTooSlow {
                name,
                probe_deadline,
                reconcile: self.settings.reconcile,
            });
        }
        if self.stop.load(Relaxed) {
            return Err(FleetError::ShutDown);
        }
        let mut attached = self.attached.lock().unwrap_or_else(PoisonError::into_inner);
        if attached.contains_key(&name) {
            return Err(FleetError::AlreadyAttached(name));
        }
        let id = self.next_id.fetch_add(1, Relaxed);
        let sent = self.tx.send(Input::Attach {
            id,
            member,
            #[cfg(feature = "metrics")]
            gauges: self.export.as_ref().map(|e| e.breaker(&name)),
        });
        if !sent {
            return Err(FleetError::ShutDown);
        }
        attached.insert(name.clone(), id);
        Ok(Attachment {
            name,
            id,
            tx: self.tx.clone(),
            attached: Arc::clone(&self.attached),
            keep: false,
        })
    }

    /// Detaches the breaker named `name`, whichever [`Attachment`] attached it. Returns whether
    /// one was attached. A held breaker keeps its remaining open time on its own timer.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use async_breaker::CircuitBreaker;
    /// # let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// # let db = Arc::new(CircuitBreaker::builder().name("db").build()?);
    /// fleet.attach(&db)?.keep();
    /// assert!(fleet.detach("db"));
    /// assert!(!fleet.detach("db"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(&self, name: &str) -> bool {
        let removed = self
            .attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(name)
            .is_some();
        if removed {
            let _ = self.tx.send(Input::Detach {
                name: name.to_owned(),
                id: None,
            });
        }
        removed
    }

    /// A copy of the agent's counters.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// assert_eq!(fleet.stats().probes_won, 0);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn stats(&self) -> FleetStats {
        self.counters.snapshot()
    }

    /// What the server last said about the replicas of the attached breaker `name`: how many
    /// are live, how many tripped in the current closed generation, and how many trips open
    /// the fleet now (see [`Quorum`](crate::Quorum)). `None` until the agent ran a script for
    /// it (or when no breaker of that name is attached).
    ///
    /// ```
    /// // Nothing listens on port 1: no script ever ran.
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// assert_eq!(fleet.membership("payments"), None);
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn membership(&self, name: &str) -> Option<Membership> {
        self.memberships
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .copied()
    }

    /// This replica's id in lease tokens.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").replica_id("a").build()?;
    /// assert_eq!(fleet.replica_id(), "a");
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn replica_id(&self) -> &str {
        &self.settings.replica
    }

    /// The namespace of the fleet's keys and channel.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").namespace("x").build()?;
    /// assert_eq!(fleet.namespace(), "x");
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn namespace(&self) -> &str {
        &self.settings.namespace
    }

    /// Stops the agent: every attached breaker goes back to local control (a held breaker keeps
    /// its remaining open time on its own timer; an unclaimed probe grant is handed back to the
    /// fleet), and both threads are joined. Idempotent; also done on drop.
    ///
    /// Joining waits for the threads to notice: the agent at once (plus one server operation's
    /// timeout), the subscriber as soon as the agent's stop message reaches it through the
    /// server, or, if the server stopped answering mid-read, within one reconcile interval
    /// (at most 5 s). Inside an async task, shut down (or drop) a fleet with your
    /// runtime's blocking facility (e.g. tokio's `spawn_blocking`) if that pause matters.
    ///
    /// ```
    /// let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// fleet.shutdown();
    /// assert!(fleet.stats().degraded());
    /// # Ok::<(), async_breaker_fleet::FleetError>(())
    /// ```
    pub fn shutdown(&self) {
        self.stop.store(true, Relaxed);
        let _ = self.tx.send(Input::Shutdown);
        let threads: Vec<JoinHandle<()>> = self.lock_threads().drain(..).collect();
        // The agent first: as it stops, it tells the subscriber to stop too.
        for thread in threads {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.counters.connected.store(false, Relaxed);
        self.counters.subscribed.store(false, Relaxed);
        self.attached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One breaker attached to a [`Fleet`]; detaches it when dropped (unless [`kept`](Self::keep)).
///
/// ```
/// # use std::sync::Arc;
/// # use async_breaker::CircuitBreaker;
/// # let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
/// let db = Arc::new(CircuitBreaker::builder().name("db").build()?);
/// let attachment = fleet.attach(&db)?;
/// assert_eq!(attachment.name(), "db");
/// attachment.detach();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "dropping an Attachment detaches the breaker at once; bind it or call `keep()`"]
pub struct Attachment {
    name: String,
    id: u64,
    tx: Inbox,
    attached: Arc<Mutex<HashMap<String, u64>>>,
    keep: bool,
}

impl std::fmt::Debug for Attachment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attachment")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Attachment {
    /// The attached breaker's name.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// # let db = Arc::new(async_breaker::CircuitBreaker::builder().name("db").build()?);
    /// assert_eq!(fleet.attach(&db)?.name(), "db");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Detaches the breaker now (the same as dropping the attachment).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// # let db = Arc::new(async_breaker::CircuitBreaker::builder().name("db").build()?);
    /// fleet.attach(&db)?.detach();
    /// assert!(!fleet.detach("db"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(self) {}

    /// Keeps the breaker attached for the fleet's lifetime (until [`Fleet::detach`] or
    /// [`Fleet::shutdown`]) without holding on to this handle.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # let fleet = async_breaker_fleet::Fleet::builder("redis://127.0.0.1:1/").build()?;
    /// # let db = Arc::new(async_breaker::CircuitBreaker::builder().name("db").build()?);
    /// fleet.attach(&db)?.keep();
    /// assert!(fleet.detach("db"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        let mut attached = self.attached.lock().unwrap_or_else(PoisonError::into_inner);
        if attached.get(&self.name) == Some(&self.id) {
            attached.remove(&self.name);
            let _ = self.tx.send(Input::Detach {
                name: self.name.clone(),
                id: Some(self.id),
            });
        }
    }
}
