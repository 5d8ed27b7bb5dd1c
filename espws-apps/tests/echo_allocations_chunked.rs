//! The blocking server's echo path makes no heap allocation per message, with chunked delivery.

mod allocations;

use allocations::Counting;
use espws::proto::Delivery;

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_chunked_echo_path_makes_no_heap_allocation_per_message() {
    allocations::assert_no_allocation_per_echo(Delivery::Chunked);
}
