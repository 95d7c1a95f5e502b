//! A tracing span that exists only while its future is polled: [`SpanPerPoll`].
//!
//! An instance actor lives as long as its profile and waits almost always. Held for its whole
//! life, its `run{profile=NAME}` span kept a slot of the subscriber's registry (a sharded slab
//! whose pages are never given back) and the fmt layer's formatted fields (a `String` in the
//! span's extensions) per instance: about 340 bytes each, idle (heaptrack at 300 instances). Made afresh for each poll and
//! closed when the poll returns, the same span costs nothing between polls and gives every log
//! line written during a poll the same `run{profile=NAME}: ` context, on stderr and in the
//! journal alike (both read the span's fields when the line is written).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// `inner` polled inside the span `make` returns, made for each poll and dropped (closed)
/// when the poll returns: nothing of it lives between polls. `make` is called once per poll,
/// so it should be as cheap as a `tracing::info_span!` (which returns a disabled span without
/// touching the subscriber when its level is filtered out).
pub(crate) struct SpanPerPoll<F, M> {
    inner: F,
    make: M,
}

/// Polls `inner` inside a fresh span from `make` at each poll (see [`SpanPerPoll`]).
pub(crate) fn span_per_poll<F: Future, M: Fn() -> tracing::Span>(inner: F, make: M) -> SpanPerPoll<F, M> {
    SpanPerPoll { inner, make }
}

impl<F: Future, M: Fn() -> tracing::Span> Future for SpanPerPoll<F, M> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `inner` is structurally pinned: it is never moved out of `self` nor handed
        // out unpinned, `SpanPerPoll` has no `Drop` of its own, and it is `Unpin` only when
        // `F` and `M` are (the auto trait). `make` is only called through a shared reference.
        let this = unsafe { self.get_unchecked_mut() };
        let span = (this.make)();
        let _entered = span.enter();
        // SAFETY: as above; `this.inner` is pinned because `self` was.
        unsafe { Pin::new_unchecked(&mut this.inner) }.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    /// Counts spans alive (created, not yet closed) and records each event with its span path.
    #[derive(Clone, Default)]
    struct Watch {
        alive: Arc<Mutex<i64>>,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl<S> tracing_subscriber::Layer<S> for Watch
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        fn on_new_span(&self, _: &tracing::span::Attributes<'_>, _: &tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            *self.alive.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        }
        fn on_close(&self, _: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
            *self.alive.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        }
        fn on_event(&self, event: &tracing::Event<'_>, ctx: tracing_subscriber::layer::Context<'_, S>) {
            let path: Vec<&str> = ctx
                .event_scope(event)
                .into_iter()
                .flat_map(|s| s.from_root())
                .map(|s| s.name())
                .collect();
            self.lines.lock().unwrap_or_else(|e| e.into_inner()).push(path.join(":"));
        }
    }

    /// A future waiting between two polls holds no span; each poll runs in one, and the log
    /// lines of both polls carry it (stderr's format, checked byte for byte below).
    #[test]
    fn the_span_lives_only_during_a_poll() {
        let watch = Watch::default();
        let captured = Arc::new(Mutex::new(Vec::<u8>::new()));
        let writer = {
            let c = captured.clone();
            move || CaptureWriter(c.clone())
        };
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(writer)
            .with_ansi(false)
            .with_target(false)
            .without_time();
        let subscriber = tracing_subscriber::registry().with(watch.clone()).with(fmt);
        tracing::subscriber::with_default(subscriber, || {
            let name: Arc<str> = Arc::from("main");
            let future = span_per_poll(
                async move {
                    tracing::info!(pid = 7, "spawned");
                    YieldOnce(false).await;
                    tracing::warn!("second poll");
                },
                move || tracing::info_span!("run", profile = %name),
            );
            let mut future = Box::pin(future);
            let waker = std::task::Waker::noop();
            let mut cx = Context::from_waker(waker);
            assert!(future.as_mut().poll(&mut cx).is_pending());
            assert_eq!(*watch.alive.lock().unwrap_or_else(|e| e.into_inner()), 0, "no span between polls");
            assert!(future.as_mut().poll(&mut cx).is_ready());
            assert_eq!(*watch.alive.lock().unwrap_or_else(|e| e.into_inner()), 0);
        });
        assert_eq!(*watch.lines.lock().unwrap_or_else(|e| e.into_inner()), ["run", "run"]);
        let text = String::from_utf8(captured.lock().unwrap_or_else(|e| e.into_inner()).clone()).expect("utf8");
        assert_eq!(
            text,
            " INFO run{profile=main}: spawned pid=7\n WARN run{profile=main}: second poll\n"
        );
    }

    /// Pending on its first poll, ready on the next.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            if self.0 {
                Poll::Ready(())
            } else {
                self.0 = true;
                Poll::Pending
            }
        }
    }

    struct CaptureWriter(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for CaptureWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
