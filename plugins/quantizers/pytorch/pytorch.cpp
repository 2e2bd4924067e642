// PyTorch's own post-training quantization grid, reproduced: torch.ao's default static qconfig
// for `backend` (1.13 to 2.x), with scale and zero point from torch.ao's _calculate_qparams and
// quantize-dequantize through ATen's fake-quant ops, which round exactly as quantize_per_tensor /
// quantize_per_channel do.
//
//   backend   activations                        weights
//   onednn    quint8 [0, 255], affine            qint8 [-128, 127], symmetric per output channel
//   x86       quint8 [0, 127] (reduce_range)     qint8 [-128, 127], symmetric per output channel
//   qnnpack   quint8 [0, 255], affine            qint8 [-128, 127], symmetric per tensor
//
// torch.ao pairs these grids with HistogramObserver for activations (the `histogram` observer)
// and min/max for weights; qx lets any observer supply the range, and the experiment file names
// the torch.ao pairing as its reference cell. At b bits other than 8 the same grids are scaled,
// as torch.ao's observers do when given quant_min/quant_max: [0, 2^b - 1] and [-2^(b-1), 2^(b-1) - 1].
#include "qx/core/error.h"
#include "qx/plugin/abi.h"
#include "qx/plugin/registrar.h"
#include "qx/quant/quantizer.h"

namespace {

using namespace qx::quant;

class PytorchQuantizer : public Quantizer {
 public:
  explicit PytorchQuantizer(std::string backend) : backend_(std::move(backend)) {}

  QuantSpec spec(TensorRole role, int bits) const override {
    if (role == TensorRole::kWeight) return QuantSpec{bits, /*symmetric=*/true, backend_ == "qnnpack" ? -1 : 0};
    if (backend_ == "x86") {
      // reduce_range drops one bit of the activation grid (headroom for VPMADDUBSW's int16 sums).
      if (bits - 1 < kMinBits) qx::fail("quantizer 'pytorch' (x86): reduce_range needs at least {} bits", kMinBits + 1);
      return QuantSpec{bits - 1, /*symmetric=*/false, -1};
    }
    return QuantSpec{bits, /*symmetric=*/false, -1};
  }

 private:
  std::string backend_;
};

}  // namespace

QX_PLUGIN(quantizer, pytorch, "1.0.0", registrar) {
  registrar.add_quantizer("pytorch", [](const qx::Options& options) {
    const std::string backend = options.get_choice("backend", "onednn", {"onednn", "x86", "qnnpack"});
    return std::make_unique<PytorchQuantizer>(backend);
  });
}
