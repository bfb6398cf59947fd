#!/usr/bin/env bash
# Every relative link of the repository's Markdown resolves: README.md, docs/*.md and
# fleet/README.md. A link's file (or folder) must exist, and its `#anchor`, in a Markdown file,
# must name one of that file's headings (GitHub's anchors) or an `id`/`name` given in HTML.
# Links into the guides' rustdoc (https://docs.rs/async-breaker/latest/async_breaker/guide/<m>/)
# must name a guide module of src/guide.rs. Other absolute links are not fetched.
# Prints each broken link as `file:line: target: why` and exits 1 if there is any.
set -euo pipefail
cd "$(dirname "$0")/.."

files=(README.md docs/*.md fleet/README.md)

exec perl -e '
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;

sub slurp {
    my ($path) = @_;
    open(my $fh, "<:encoding(UTF-8)", $path) or die "$path: $!\n";
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

# The text with fenced code blocks and code spans blanked (same length, newlines kept), so
# offsets still give line numbers and nothing inside code counts as a link.
sub prose {
    my ($text) = @_;
    my $blank = sub { my $s = shift; $s =~ s/[^\n]/ /g; $s };
    $text =~ s/^([ \t]*)(```|~~~)[^\n]*\n.*?^[ \t]*\2[^\n]*$/$blank->($&)/gmse;
    $text =~ s/(`+)(?!`).+?(?<!`)\1(?!`)/$blank->($&)/gse;
    return $text;
}

# GitHub heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered.
my %anchors_of;
sub anchors {
    my ($path) = @_;
    return $anchors_of{$path} if $anchors_of{$path};
    my $text = slurp($path);
    my %seen;
    my %anchors;
    my $in_fence = 0;
    for my $line (split /\n/, $text) {
        if ($line =~ /^\s*(```|~~~)/) { $in_fence = !$in_fence; next; }
        next if $in_fence;
        if ($line =~ /^#{1,6}\s+(.*?)\s*#*\s*$/) {
            my $id = lc $1;
            $id =~ s/\[([^\]]*)\]\([^)]*\)/$1/g;    # a link in a heading: its text
            $id =~ s/[^\w\- ]//g;
            $id =~ s/ /-/g;
            my $n = $seen{$id}++;
            $anchors{$n ? "$id-$n" : $id} = 1;
        }
        while ($line =~ /<a\s[^>]*(?:id|name)\s*=\s*"([^"]+)"/g) { $anchors{$1} = 1; }
    }
    return $anchors_of{$path} = \%anchors;
}

my %guides = map { $_ => 1 } (slurp("src/guide.rs") =~ /^pub mod (\w+)/mg);

my $broken = 0;
for my $file (@ARGV) {
    my $text = prose(slurp($file));
    my @targets;
    # Inline links and images: [text](target "title"), also across lines.
    while ($text =~ /\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^()\s<>]+)>?(?:\s+"[^"]*")?\s*\)/g) {
        push @targets, [$1, $-[0]];
    }
    # Reference definitions: [label]: target
    while ($text =~ /^[ ]{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/mg) {
        push @targets, [$1, $-[0]];
    }
    for (sort { $a->[1] <=> $b->[1] } @targets) {
        my ($target, $at) = @$_;
        my $line = 1 + (substr($text, 0, $at) =~ tr/\n//);
        my $why;
        if ($target =~ m{^https://docs\.rs/async-breaker/[^/]+/async_breaker/guide/(\w+)/}) {
            $why = "no guide module `$1` in src/guide.rs" unless $guides{$1};
        } elsif ($target =~ /^[a-z][a-z0-9+.-]*:/i) {
            next;    # http, https, mailto: not fetched
        } else {
            my ($path, $anchor) = split /#/, $target, 2;
            my $resolved = $path eq "" ? $file
                : File::Spec->catfile(dirname($file), $path);
            if (!-e $resolved) {
                $why = "no such file ($resolved)";
            } elsif (defined $anchor && $anchor ne "" && -f $resolved && $resolved =~ /\.md$/) {
                $why = "no heading for #$anchor in $resolved"
                    unless anchors($resolved)->{$anchor};
            }
        }
        if ($why) {
            print "$file:$line: $target: $why\n";
            $broken++;
        }
    }
}
if ($broken) {
    print "$broken broken link(s)\n";
    exit 1;
}
print "every link resolves (" . scalar(@ARGV) . " files)\n";
' "${files[@]}"
