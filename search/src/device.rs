//! The compute device a run's tensors live on: chosen once (by the CLI), carried in the typed
//! settings, and read everywhere else from the settings or from a tensor already on it.

use candle_core::Device;

/// A Candle device as a setting. It is not serialised (a run's files do not depend on where it
/// ran, and old settings files stay byte-identical); it reads back as the default, the CPU.
#[derive(Debug, Clone)]
pub struct ComputeDevice(Device);

impl ComputeDevice {
    /// The CPU: today's only back end, and the default.
    pub fn cpu() -> ComputeDevice {
        ComputeDevice(Device::Cpu)
    }
}

impl Default for ComputeDevice {
    fn default() -> Self {
        ComputeDevice::cpu()
    }
}

/// How a back end other than the CPU (a later feature) becomes the setting.
impl From<Device> for ComputeDevice {
    fn from(device: Device) -> Self {
        ComputeDevice(device)
    }
}

impl std::ops::Deref for ComputeDevice {
    type Target = Device;
    fn deref(&self) -> &Device {
        &self.0
    }
}

/// Always equal: settings are compared to tell whether a folder holds the same run, and the
/// device is not part of what is stored about a run (see the type's documentation).
impl PartialEq for ComputeDevice {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
