//! The name table without `std`: a list of leaked nodes, pushed under a spin flag (so two
//! builders can never both add the same name) and read without it.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use core::sync::atomic::{AtomicBool, Ordering};

use crossbeam_utils::atomic::AtomicCell;

struct Node {
    name: &'static str,
    next: Link,
}

/// The next node, if any.
#[derive(Clone, Copy)]
struct Link(Option<&'static Node>);

static HEAD: AtomicCell<Link> = AtomicCell::new(Link(None));
static WRITING: AtomicBool = AtomicBool::new(false);

fn find(mut link: Link, name: &str) -> Option<&'static &'static str> {
    while let Some(node) = link.0 {
        if node.name == name {
            return Some(&node.name);
        }
        link = node.next;
    }
    None
}

pub(super) fn intern(name: Cow<'static, str>) -> &'static &'static str {
    if let Some(entry) = find(HEAD.load(), &name) {
        return entry;
    }
    while WRITING
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        core::hint::spin_loop();
    }
    // Only the holder of the flag pushes, so the head read here is the head replaced below.
    let head = HEAD.load();
    let entry = find(head, &name).unwrap_or_else(|| {
        let node: &'static Node = Box::leak(Box::new(Node {
            name: super::stored(name),
            next: head,
        }));
        HEAD.store(Link(Some(node)));
        &node.name
    });
    WRITING.store(false, Ordering::Release);
    entry
}
