//! Work split across the cores with scoped threads. The callers decide from what size splitting
//! pays; `threads <= 1` (or a single task) runs on the calling thread.

/// The threads to use: the cores, at most 8.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
}

/// Runs each task on a thread of its own (a single one on this thread) and returns their
/// results in the tasks' order. A task's panic is resumed here as it was.
pub(crate) fn all<R: Send, F: FnOnce() -> R + Send>(tasks: Vec<F>) -> Vec<R> {
    if tasks.len() <= 1 {
        return tasks.into_iter().map(|task| task()).collect();
    }
    std::thread::scope(|scope| {
        let running: Vec<_> = tasks.into_iter().map(|task| scope.spawn(task)).collect();
        running.into_iter().map(|t| t.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// `f` over `items` split in `threads` parts; the results in the items' order.
pub(crate) fn map<'a, T: Sync, R: Send>(
    items: &'a [T],
    threads: usize,
    f: impl Fn(&'a [T]) -> Vec<R> + Sync,
) -> Vec<R> {
    if threads <= 1 {
        return f(items);
    }
    let f = &f;
    let parts = items.chunks(items.len().div_ceil(threads).max(1)).map(|part| move || f(part)).collect();
    all(parts).into_iter().flatten().collect()
}

/// `f` on each of `threads` parts of `items`, changing them in place.
pub(crate) fn for_each_mut<T: Send>(items: &mut [T], threads: usize, f: impl Fn(&mut [T]) + Sync) {
    if threads <= 1 {
        return f(items);
    }
    let (f, size) = (&f, items.len().div_ceil(threads).max(1));
    all(items.chunks_mut(size).map(|part| move || f(part)).collect());
}

#[cfg(test)]
mod tests {
    /// Any number of parts: the same results, in the items' order.
    #[test]
    fn parts_keep_the_order() {
        let items: Vec<u32> = (0..1000).collect();
        for threads in [1, 2, 3, 7, 2000] {
            assert_eq!(super::map(&items, threads, |part| part.iter().map(|n| n * 2).collect()), {
                items.iter().map(|n| n * 2).collect::<Vec<_>>()
            });
            let mut changed = items.clone();
            super::for_each_mut(&mut changed, threads, |part| part.iter_mut().for_each(|n| *n += 1));
            assert_eq!(changed, items.iter().map(|n| n + 1).collect::<Vec<_>>());
        }
        assert!(super::map(&[] as &[u32], 3, |part| part.to_vec()).is_empty());
    }

    /// A task's panic reaches the caller with its own message.
    #[test]
    fn a_panic_is_the_tasks_own() {
        let tasks: Vec<Box<dyn FnOnce() -> u32 + Send>> = vec![Box::new(|| 1), Box::new(|| panic!("task two failed"))];
        let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::all(tasks))).unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"task two failed"));
    }
}
