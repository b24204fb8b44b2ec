//! The tokio runtime behind the binding: napi-rs's default, except that its threads are
//! SCHED_BATCH. When they share a core with Node (a container with one CPU), a socket becoming
//! readable then does not preempt JS in the middle of a batch: Node finishes dispatching, and
//! the next batch carries everything that arrived meanwhile, instead of a context switch per
//! few events. On idle cores it changes nothing.

#[napi_derive::module_init]
fn init() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(yield_to_node_on_shared_cores)
        .build()
        .expect("the tokio runtime starts");
    napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
}

fn yield_to_node_on_shared_cores() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: plain syscall on the calling thread with a valid parameter; failure (a
        // sandbox that forbids it) leaves the default policy, which is only slower.
        unsafe {
            libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
        }
    }
}
