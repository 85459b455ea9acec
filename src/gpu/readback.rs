//! Copying buffers back to host memory: async at the core, with a blocking wrapper.

use super::Gpu;
use crate::{Error, Result};

impl Gpu {
    /// Copies `bytes` bytes from the start of `src` into host memory.
    ///
    /// The copy is submitted after all previously submitted work. The future completes once the
    /// device has finished it; on native backends the device is polled here, so this future can
    /// be driven by any executor (or by [`Gpu::read_bytes`]).
    pub async fn read_bytes_async(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        if bytes == 0 {
            return Ok(Vec::new());
        }
        let padded = bytes.div_ceil(wgpu::COPY_BUFFER_ALIGNMENT) * wgpu::COPY_BUFFER_ALIGNMENT;
        let device = self.device();
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("featuremap readback"),
            size: padded,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("readback") });
        enc.copy_buffer_to_buffer(src, 0, &staging, 0, padded);
        self.queue().submit([enc.finish()]);

        let (tx, rx) = futures_intrusive::channel::shared::oneshot_channel();
        staging.map_async(wgpu::MapMode::Read, .., move |r| {
            let _ = tx.send(r);
        });
        device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Readback(e.to_string()))?;
        match rx.receive().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(Error::Readback(e.to_string())),
            None => return Err(Error::Readback("map callback dropped".into())),
        }
        self.check_errors("readback")?;
        let out = {
            let view = staging.get_mapped_range(..).map_err(|e| Error::Readback(e.to_string()))?;
            view[..bytes as usize].to_vec()
        };
        staging.unmap();
        Ok(out)
    }

    /// Copies the byte ranges `(offset, len)` of `src` (each a multiple of 4) into one host
    /// vector, in order, with one staging buffer and one submit.
    pub fn read_ranges(&self, src: &wgpu::Buffer, ranges: &[(u64, u64)]) -> Result<Vec<u8>> {
        let total: u64 = ranges.iter().map(|r| r.1).sum();
        if total == 0 {
            return Ok(Vec::new());
        }
        if ranges.iter().any(|&(o, l)| o % 4 != 0 || l % 4 != 0 || o + l > src.size()) {
            return Err(Error::Readback("ranges must be 4-byte aligned and inside the buffer".into()));
        }
        let device = self.device();
        let gather = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("featuremap gather"),
            size: total,
            usage: wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("gather") });
        let mut at = 0;
        for &(o, l) in ranges {
            enc.copy_buffer_to_buffer(src, o, &gather, at, l);
            at += l;
        }
        self.queue().submit([enc.finish()]);
        self.read_bytes(&gather, total)
    }

    /// Blocking form of [`Gpu::read_bytes_async`].
    pub fn read_bytes(&self, src: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        pollster::block_on(self.read_bytes_async(src, bytes))
    }
}
