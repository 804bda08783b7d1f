//! The WebGPU device, initialised at most once per page (burn's wgpu runtime cannot be registered twice) and
//! cached, including a failure, so every `Predictor` shares it.

use burn::tensor::Device;

#[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
thread_local! {
    static GPU: std::cell::RefCell<Option<Result<Device, String>>> = const { std::cell::RefCell::new(None) };
}

/// The WebGPU device, or why there is none.
#[cfg(all(feature = "webgpu", target_arch = "wasm32"))]
pub async fn device() -> Result<Device, String> {
    if let Some(cached) = GPU.with(|g| g.borrow().clone()) {
        return cached;
    }
    let has_gpu = js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .ok()
        .and_then(|n| js_sys::Reflect::get(&n, &"gpu".into()).ok())
        .is_some_and(|g| !g.is_undefined() && !g.is_null());
    let result = if has_gpu {
        Device::wgpu_options().init_async().await.map_err(|e| format!("{e:?}"))
    } else {
        Err("navigator.gpu is not available in this browser".to_string())
    };
    GPU.with(|g| *g.borrow_mut() = Some(result.clone()));
    result
}

/// Without the `webgpu` feature (or outside the browser) there is no WebGPU device.
#[cfg(not(all(feature = "webgpu", target_arch = "wasm32")))]
pub async fn device() -> Result<Device, String> {
    Err("this build of mtf-wasm is CPU-only (built without the `webgpu` feature)".to_string())
}
