// Weight and activation histograms with the clipping ranges the observers chose: the picture
// behind "what breaks at 4 bits". Each figure shows one layer: left its (BN-folded) weight with
// the per-tensor range and the spread of per-channel ranges, right its input activation with the
// range of every observer, all at kBits, where their choices differ most.
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "markdown.h"
#include "report_plots.h"
#include "report_tables.h"

namespace qx::report {

namespace {

namespace fs = std::filesystem;

constexpr int kBits = 4;
// One colour per observer, in the grid's order of observers.
const std::vector<std::string> kColours = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

// Bin centres and non-zero counts (a log axis has no place for zero).
std::string histogram_rows(const HistogramRow& h) {
  std::string rows;
  const double width = (h.hi - h.lo) / static_cast<double>(std::max<std::size_t>(h.counts.size(), 1));
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    if (h.counts[i] > 0) rows += fmt::format("{:.6g} {}\n", h.lo + (i + 0.5) * width, h.counts[i]);
  }
  return rows;
}

// A copy: the rows come from a query whose result the callers do not keep.
std::optional<TensorRow> find_tensor(const std::vector<TensorRow>& tensors, const std::string& name,
                                     const std::string& role) {
  for (const auto& t : tensors) {
    if (t.name == name && t.role == role) return t;
  }
  return std::nullopt;
}

// The plain grid cell at kBits for this observer and quantizer, if the grid ran it.
const CellRow* grid_cell(const ReportData& data, const std::string& observer, const std::string& quantizer) {
  for (const auto& c : data.cells) {
    if (plain_grid_cell(data, c) && c.observer == observer && c.quantizer == quantizer && c.w_bits == kBits &&
        c.a_bits == kBits) {
      return &c;
    }
  }
  return nullptr;
}

// A vertical line over the whole panel, with its legend entry drawn by a NaN plot.
std::string vertical(double x, const std::string& colour, const std::string& dash) {
  return fmt::format("set arrow from {:.6g}, graph 0 to {:.6g}, graph 1 nohead lw 2 lc rgb '{}' dt {}\n", x, x, colour,
                     dash);
}

std::string weight_panel(store::Database& db, const ReportData& data, const HistogramRow& weight) {
  std::string body = "unset arrow\n", keys;
  const auto& s = data.study;
  if (const auto* cell = grid_cell(data, s.naive_observer, s.per_tensor_quantizer)) {
    if (const auto t = find_tensor(store::read_tensors(db, cell->id), weight.name, "weight"); t && !t->range_min.empty()) {
      body += vertical(t->range_min[0], "black", "1") + vertical(t->range_max[0], "black", "1");
      keys += ", NaN with lines lw 2 lc rgb 'black' title 'per-tensor range'";
    }
  }
  if (const auto* cell = grid_cell(data, s.naive_observer, s.per_channel_quantizer)) {
    if (const auto t = find_tensor(store::read_tensors(db, cell->id), weight.name, "weight"); t && !t->range_max.empty()) {
      // Symmetric per-channel ranges: the median channel's, to set against the per-tensor one.
      std::vector<double> extent;
      for (std::size_t i = 0; i < t->range_max.size(); ++i) {
        extent.push_back(std::max(std::abs(t->range_min[i]), std::abs(t->range_max[i])));
      }
      std::nth_element(extent.begin(), extent.begin() + extent.size() / 2, extent.end());
      const double median = extent[extent.size() / 2];
      body += vertical(-median, "#d62728", "2") + vertical(median, "#d62728", "2");
      keys += ", NaN with lines lw 2 dt 2 lc rgb '#d62728' title 'median per-channel range'";
    }
  }
  return body + fmt::format("set title '{}: weight, BatchNorm folded'\nset xlabel 'value'\n", weight.name) +
         "plot $" + "weight using 1:2 with boxes fs solid 0.6 lc rgb '#888888' notitle" + keys + "\n";
}

std::string activation_panel(store::Database& db, const ReportData& data, const HistogramRow& activation) {
  std::string body = "unset arrow\n", keys;
  const auto observers = grid_values(data, &CellRow::observer);
  for (std::size_t i = 0; i < observers.size(); ++i) {
    const auto& observer = observers[i];
    const auto& colour = kColours[i % kColours.size()];
    const auto* cell = grid_cell(data, observer, data.study.per_tensor_quantizer);
    if (!cell) continue;
    const auto t = find_tensor(store::read_tensors(db, cell->id), activation.name, "activation");
    if (!t || t->range_max.empty()) continue;
    body += vertical(t->range_max[0], colour, "1");
    if (t->range_min[0] < 0) body += vertical(t->range_min[0], colour, "1");
    keys += fmt::format(", NaN with lines lw 2 lc rgb '{}' title '{}'", colour, observer);
  }
  return body +
         fmt::format("set title '{}: input activation, {} calibration images'\nset xlabel 'value'\n", activation.name,
                     activation.images) +
         "plot $" + "activation using 1:2 with boxes fs solid 0.6 lc rgb '#888888' notitle" + keys + "\n";
}

}  // namespace

std::string histograms_caption(const ReportData& data) {
  return say(data.text, "histograms", fmt::arg("bits", kBits), fmt::arg("quantizer", data.study.per_tensor_quantizer));
}

std::string histogram_figure(const std::string& weight_layer, const std::string& prefix) {
  return fmt::format("{}histogram_{}.svg", prefix, weight_layer);
}

std::vector<std::string> write_histogram_plots(store::Database& db, const ReportData& data, const fs::path& out_dir,
                                               const std::string& gnuplot, const std::string& prefix) {
  std::vector<std::string> written;
  // Stored as each layer's weight followed by the activation point that feeds it.
  for (std::size_t i = 0; i + 1 < data.histograms.size(); ++i) {
    const auto& weight = data.histograms[i];
    const auto& activation = data.histograms[i + 1];
    if (weight.role != "weight" || activation.role != "activation") continue;
    const auto file = histogram_figure(weight.name, prefix);
    render(gnuplot,
           block("weight", histogram_rows(weight)) + block("activation", histogram_rows(activation)) +
               fmt::format("set multiplot layout 1,2 title 'Distributions and the ranges chosen at {} bits'\n", kBits) +
               "set logscale y\nset ylabel 'count'\nset grid\nset key top right font ',10'\nset style fill solid\n" +
               weight_panel(db, data, weight) + activation_panel(db, data, activation) + "unset multiplot\n",
           out_dir / file, 1000, 380);
    written.push_back(file);
  }
  return written;
}

}  // namespace qx::report
