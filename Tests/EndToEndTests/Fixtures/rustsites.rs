// rustsites: a Rust program whose allocations are known exactly, for the
// end-to-end tests of programs written in Rust. Lines marked SITE/CALL are
// looked up by the tests.
//
// make_buffer keeps one Vec<u8> of 4000 bytes and, on a thread of its own
// (whose stack then holds no copy of the pointer), loses one of 1000
// (mem::forget); make_list allocates 100 boxed nodes of 16 bytes and frees
// them before exit; a closure keeps a String of 300 bytes in a static.
use std::sync::Mutex;

struct Node {
    value: u64,
    next: Option<Box<Node>>,
}

static KEPT: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[inline(never)]
fn make_buffer(n: usize) -> Vec<u8> {
    Vec::with_capacity(n) // SITE buffer
}

#[inline(never)]
fn make_list(n: u64) -> Option<Box<Node>> {
    let mut head = None;
    for value in 0..n {
        head = Some(Box::new(Node { value, next: head })); // SITE node
    }
    head
}

fn sum(mut node: Option<Box<Node>>) -> u64 {
    let mut total = 0;
    while let Some(current) = node {
        total += current.value;
        node = current.next;
    }
    total
}

fn main() {
    let kept = make_buffer(4000); // CALL kept
    std::thread::spawn(|| std::mem::forget(make_buffer(1000))).join().unwrap(); // CALL lost
    let list = make_list(100); // CALL list
    let keep = |n: usize| KEPT.lock().unwrap().push("x".repeat(n)); // SITE closure
    keep(300); // CALL keep
    std::process::exit(if kept.capacity() == 4000 && sum(list) == 4950 { 0 } else { 1 });
}
