//! Work split across the cores with scoped threads: each part on a thread of its own (on this
//! one when there is one part), the results in the items' order. The callers decide from what
//! size splitting pays.

/// The threads to use: the cores, at most 8.
pub(crate) fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(8)
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
    std::thread::scope(|scope| {
        let parts: Vec<_> =
            items.chunks(items.len().div_ceil(threads).max(1)).map(|part| scope.spawn(move || f(part))).collect();
        parts.into_iter().flat_map(|p| p.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// `f` on each of `threads` parts of `items`, changing them in place.
pub(crate) fn for_each_mut<T: Send>(items: &mut [T], threads: usize, f: impl Fn(&mut [T]) + Sync) {
    if threads <= 1 {
        return f(items);
    }
    let (f, size) = (&f, items.len().div_ceil(threads).max(1));
    std::thread::scope(|scope| {
        let parts: Vec<_> = items.chunks_mut(size).map(|part| scope.spawn(move || f(part))).collect();
        for part in parts {
            part.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        }
    });
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
}
