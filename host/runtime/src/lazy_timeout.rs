//! A timeout whose timer is armed only if the future it bounds has to wait.
//!
//! `tokio::time::timeout` reads the clock, clones the runtime's handle (an atomic on a line
//! every worker shares) and sets up its timer entry when it is made. A request or a step that
//! answers on its first poll (a warm instance, a Runnable that calls nothing slow) needs none
//! of it: [`timeout_at`] polls the future first and arms the timer at the first `Pending`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use karman_runtime::lazy_timeout::{TimedOut, timeout_at};
//! use tokio::time::Instant;
//!
//! let soon = Instant::now() + Duration::from_millis(10);
//! assert_eq!(timeout_at(soon, async { 7 }).await, Ok(7));
//! let never = std::future::pending::<()>();
//! assert_eq!(timeout_at(soon, never).await, Err(TimedOut));
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

/// The deadline passed before the future was ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut;

/// `future`, or [`TimedOut`] once `deadline` has passed with it still pending. The timer is
/// armed only when `future` first returns `Pending`.
pub fn timeout_at<F: Future>(deadline: Instant, future: F) -> LazyTimeout<F> {
    LazyTimeout {
        future,
        deadline,
        timer: None,
    }
}

pin_project_lite::pin_project! {
    /// The future [`timeout_at`] returns.
    pub struct LazyTimeout<F> {
        #[pin]
        future: F,
        deadline: Instant,
        #[pin]
        timer: Option<Sleep>,
    }
}

impl<F: Future> Future for LazyTimeout<F> {
    type Output = Result<F::Output, TimedOut>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        if this.timer.is_none() {
            this.timer
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        let timer = this.timer.as_pin_mut().expect("armed above");
        timer.poll(cx).map(|()| Err(TimedOut))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_future_that_waits_past_its_deadline_times_out_at_it() {
        let started = Instant::now();
        let deadline = started + Duration::from_secs(5);
        let slow = tokio::time::sleep(Duration::from_secs(60));
        assert_eq!(timeout_at(deadline, slow).await, Err(TimedOut));
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_future_that_waits_less_finishes() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let quick = async {
            tokio::time::sleep(Duration::from_secs(4)).await;
            "done"
        };
        assert_eq!(timeout_at(deadline, quick).await, Ok("done"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_ready_future_wins_even_past_its_deadline() {
        let deadline = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(timeout_at(deadline, async { 1 }).await, Ok(1));
    }

    #[tokio::test(start_paused = true)]
    async fn no_timer_is_armed_for_a_future_ready_at_once() {
        let mut ready =
            std::pin::pin!(timeout_at(Instant::now() + Duration::from_secs(5), async {
                2
            }));
        let waker = std::task::Waker::noop();
        let polled = ready.as_mut().poll(&mut Context::from_waker(waker));
        assert_eq!(polled, Poll::Ready(Ok(2)));
        assert!(ready.timer.is_none());
    }
}
