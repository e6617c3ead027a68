//! The guest's allocator: small blocks kept for reuse in front of the system's.
//!
//! A `wasm32-wasip2` guest allocates with wasi-libc's `dlmalloc`, reached through four calls
//! (`__rust_alloc`, `__rdl_alloc`, `malloc`, `dlmalloc`), each checking wasmtime's epoch and
//! the stack on entry: allocating and freeing were a seventh of the command-repetition
//! component's time, against a few percent for the native crate on the host's allocator.
//! Here a freed block of up to 256 bytes goes onto a list of blocks of its size class (8 bytes
//! apart), and the next allocation of that class takes it back in a few instructions; larger
//! blocks, and small ones while their class's list is empty, come from the system allocator.
//! Blocks kept this way are never handed back to it: a detector holds at most, in each class,
//! as many as it ever held at once.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;

/// Size classes are this many bytes apart, and their blocks aligned to it (the alignment the
/// system allocator gives without its slower aligned path).
const CLASS_BYTES: usize = 8;
const CLASSES: usize = 32;

/// The allocator the SDK installs in WebAssembly guests.
pub struct Pooled {
    /// The first free block of each class; each free block holds the address of the next.
    free: UnsafeCell<[*mut u8; CLASSES]>,
}

// SAFETY: a `wasm32-wasip2` guest has one thread (no `atomics` target feature), so the lists
// are never reached from two threads.
unsafe impl Sync for Pooled {}

impl Pooled {
    pub const fn new() -> Self {
        Pooled { free: UnsafeCell::new([std::ptr::null_mut(); CLASSES]) }
    }
}

/// The class of a layout kept for reuse, and the layout its blocks are allocated with.
fn class(layout: Layout) -> Option<(usize, Layout)> {
    if layout.size() == 0 || layout.size() > CLASS_BYTES * CLASSES || layout.align() > CLASS_BYTES {
        return None;
    }
    let class = (layout.size() - 1) / CLASS_BYTES;
    Some((class, Layout::from_size_align((class + 1) * CLASS_BYTES, CLASS_BYTES).ok()?))
}

unsafe impl GlobalAlloc for Pooled {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((class, block)) = class(layout) else { return unsafe { System.alloc(layout) } };
        // SAFETY: one thread (see `Sync`); a free block holds the next one's address.
        unsafe {
            let head = &mut (*self.free.get())[class];
            if head.is_null() {
                return System.alloc(block);
            }
            let taken = *head;
            *head = taken.cast::<*mut u8>().read();
            taken
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let Some((class, _)) = class(layout) else { return unsafe { System.dealloc(ptr, layout) } };
        // SAFETY: one thread; the block is at least 8 bytes, aligned to 8, and no longer used.
        unsafe {
            let head = &mut (*self.free.get())[class];
            ptr.cast::<*mut u8>().write(*head);
            *head = ptr;
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `GlobalAlloc::realloc`; a block already big enough is kept.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            match (class(layout), class(new_layout)) {
                (Some((old, _)), Some((new, _))) if old == new => ptr,
                (None, None) => System.realloc(ptr, layout, new_size),
                _ => {
                    let moved = self.alloc(new_layout);
                    if !moved.is_null() {
                        let len = layout.size().min(new_size);
                        if len <= 64 {
                            crate::bytes::copy_short(ptr, moved, len);
                        } else {
                            std::ptr::copy_nonoverlapping(ptr, moved, len);
                        }
                        self.dealloc(ptr, layout);
                    }
                    moved
                }
            }
        }
    }
}

#[cfg(target_family = "wasm")]
#[global_allocator]
static ALLOCATOR: Pooled = Pooled::new();

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 1).expect("a valid layout")
    }

    #[test]
    fn a_freed_small_block_is_reused_by_its_class_only() {
        let pooled = Pooled::new();
        // SAFETY: every block is used within its size and freed once, with its layout.
        unsafe {
            let first = pooled.alloc(layout(20));
            pooled.dealloc(first, layout(20));
            let other_class = pooled.alloc(layout(30));
            assert_ne!(other_class, first, "24 and 32 bytes are different classes");
            assert_eq!(pooled.alloc(layout(17)), first, "17 to 24 bytes share a class");
            let large = pooled.alloc(layout(4096));
            pooled.dealloc(large, layout(4096));
            pooled.dealloc(first, layout(17));
            pooled.dealloc(other_class, layout(30));
        }
    }

    #[test]
    fn realloc_keeps_the_contents_across_classes_and_into_large_blocks() {
        let pooled = Pooled::new();
        // SAFETY: each pointer is used within the size it was last given and freed once.
        unsafe {
            let mut size = 3;
            let mut block = pooled.alloc(layout(size));
            for at in 0..size {
                *block.add(at) = at as u8;
            }
            for new_size in [5, 8, 9, 64, 100, 256, 257, 1000, 40, 2] {
                block = pooled.realloc(block, layout(size), new_size);
                for at in 0..size.min(new_size) {
                    assert_eq!(*block.add(at), at as u8, "byte {at} after {size} -> {new_size}");
                }
                for at in size.min(new_size)..new_size {
                    *block.add(at) = at as u8;
                }
                size = new_size;
            }
            pooled.dealloc(block, layout(size));
        }
    }
}
