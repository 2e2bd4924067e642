#include "report_plots.h"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <string>

#include <fmt/format.h>

#include "markdown.h"
#include "qx/core/error.h"
#include "report_tables.h"

namespace qx::report {

namespace fs = std::filesystem;

void render(const std::string& gnuplot, const std::string& body, const fs::path& svg, int width, int height) {
  const auto script = svg.parent_path() / ("." + svg.stem().string() + ".gp");
  {
    // Fixed size and font, no timestamp: gnuplot's SVG output is then a function of the script.
    std::ofstream out(script);
    // noenhanced: names such as moving_average and layer3.1.out_q are text, not subscripts.
    out << fmt::format("set terminal svg size {},{} noenhanced font 'Helvetica,12' background rgb 'white'\n", width,
                       height)
        << "set output '" << svg.string() << "'\n" << body;
  }
  const auto command = fmt::format("'{}' '{}' 2>&1", gnuplot, script.string());
  const int status = std::system(command.c_str());
  fs::remove(script);
  if (status != 0) fail("gnuplot failed on {} (exit status {}); is gnuplot installed?", svg.string(), status);
}

std::string block(const std::string& name, const std::string& rows) { return "$" + name + " << EOD\n" + rows + "EOD\n"; }

std::string figure_title(const ReportData& data, const std::string& figure) {
  const auto words = say(data.text, "figure." + figure);
  return words.empty() ? "" : "set title '" + words + "'\n";
}

std::string xtics(std::vector<int> widths) {
  std::sort(widths.begin(), widths.end(), std::greater<>());
  std::string tics;
  for (const int bits : widths) tics += (tics.empty() ? "" : ", ") + std::to_string(bits);
  return "set xtics (" + tics + ")\n";
}

// Top-1 against bit width, per-channel quantizer, one line per observer.
bool plot_accuracy_vs_bits(const ReportData& data, const fs::path& svg, const std::string& gnuplot) {
  const auto* fp32 = float_baseline(data);
  std::string blocks, plot = "plot ";
  std::vector<int> widths;
  for (const auto& observer : grid_values(data, &CellRow::observer)) {
    std::string rows;
    for (const auto& c : data.cells) {
      if (plain_grid_cell(data, c) && c.quantizer == data.study.per_channel_quantizer && c.observer == observer &&
          c.w_bits == c.a_bits) {
        rows += fmt::format("{} {:.2f}\n", c.w_bits, c.top1);
        add_once(widths, c.w_bits);
      }
    }
    if (rows.empty()) continue;
    blocks += block(observer, rows);
    plot += fmt::format("$" "{} using 1:2 with linespoints lw 2 title '{}', ", observer, observer);
  }
  if (blocks.empty()) return false;
  std::string body = blocks + "set xlabel 'bits (weights = activations)'\nset ylabel 'test top-1 (%)'\n"
                              "set xrange [17:1]\n" + xtics(widths) + "set yrange [0:100]\nset key bottom left\n"
                              "set grid\n" + figure_title(data, "accuracy_vs_bits");
  if (fp32) body += fmt::format("fp32 = {:.2f}\n", fp32->top1);
  plot += fp32 ? "fp32 with lines dt 2 lc rgb 'black' title 'fp32'\n" : "\n";
  render(gnuplot, body + plot, svg);
  return true;
}

// The training curve of the checkpoint's run.
bool plot_training(const ReportData& data, const fs::path& svg, const std::string& gnuplot) {
  if (!data.training || data.training->epochs.empty()) return false;
  std::string rows;
  for (const auto& e : data.training->epochs) {
    rows += fmt::format("{} {:.3f} {:.3f} {:.6f}\n", e.epoch, e.train_top1, e.test_top1, e.lr);
  }
  const std::string body = block("epochs", rows) +
                           "set xlabel 'epoch'\nset ylabel 'top-1 (%)'\nset y2label 'learning rate'\nset y2tics\n"
                           "set ytics nomirror\nset yrange [40:100]\nset key bottom right\nset grid\n" +
                           figure_title(data, "training") +
                           "plot $epochs using 1:2 with lines lw 2 title 'train top-1', "
                           "$epochs using 1:3 with lines lw 2 title 'test top-1', "
                           "$epochs using 1:4 axes x1y2 with lines dt 2 title 'learning rate'\n";
  render(gnuplot, body, svg);
  return true;
}

// QAT training-loss curves, one per seed-0 cell of the study's training pass.
bool plot_qat(const ReportData& data, const fs::path& svg, const std::string& gnuplot) {
  std::string blocks, plot = "plot ";
  int n = 0;
  for (const auto& pass : data.passes) {
    if (pass.name != data.study.training_pass || pass.curve.empty()) continue;
    const CellRow* cell = nullptr;
    for (const auto& c : data.cells) {
      if (c.id == pass.cell_id) cell = &c;
    }
    if (!cell || cell->role != SectionKind::kCurve || cell->seed != 0) continue;
    std::string rows;
    for (const auto& [epoch, loss] : pass.curve) rows += fmt::format("{:.4f} {:.5f}\n", epoch, loss);
    const auto name = fmt::format("qat{}", n++);
    blocks += block(name, rows);
    // Distilled cells plot their distillation loss, not cross-entropy: the legend says which.
    const bool distilled = std::any_of(pass.options.begin(), pass.options.end(), [](const auto& option) {
      return option.first == "distill" && std::stod(option.second) > 0;
    });
    plot += fmt::format("${} using 1:2 with lines lw 2 title '{}, {}{}', ", name,
                        cell->label.empty() ? width(*cell) : cell->label, cell->device,
                        distilled ? ", distilled" : "");
  }
  if (n == 0) return false;
  plot.resize(plot.size() - 2);
  render(gnuplot,
         blocks + "set xlabel 'epoch of QAT'\nset ylabel 'training loss (distilled: KL to the float model)'\n"
                  "set logscale y\nset grid\nset key top right\n" + figure_title(data, "curve") + plot + "\n",
         svg);
  return true;
}

// Per-layer sensitivity: only one layer quantized (weights and its input), the rest at 16 bits.
bool plot_sensitivity(const ReportData& data, const fs::path& svg, const std::string& gnuplot) {
  const auto sensitivity = layer_sensitivity(data);
  if (sensitivity.layers.empty()) return false;
  std::string rows, tics, plot = "plot ";
  for (std::size_t i = 0; i < sensitivity.layers.size(); ++i) {
    rows += std::to_string(i);
    for (int bits : sensitivity.widths) {
      const auto change = sensitivity.at(sensitivity.layers[i], bits);
      rows += change ? fmt::format(" {:.2f}", -*change) : std::string(" NaN");
    }
    rows += "\n";
    tics += fmt::format("{}'{}' {}", i ? ", " : "", sensitivity.layers[i], i);
  }
  for (std::size_t column = 0; column < sensitivity.widths.size(); ++column) {
    plot += fmt::format("{}$drop using {} title '{} bits'", column ? ", " : "", column + 2, sensitivity.widths[column]);
  }
  render(gnuplot,
         block("drop", rows) +
             "set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8\n"
             "set boxwidth 0.9\nset ylabel 'top-1 drop vs fp32 (pp)'\nset grid ytics\nset xtics rotate by -45\n" +
             figure_title(data, "per-layer") +
             "set xtics (" + tics + ")\nset key top left\n" + plot + "\n",
         svg);
  return true;
}

std::vector<std::string> write_plots(const ReportData& data, const fs::path& out_dir, const std::string& gnuplot) {
  std::vector<std::string> written;
  const std::pair<const char*, bool (*)(const ReportData&, const fs::path&, const std::string&)> figures[] = {
      {"accuracy_vs_bits.svg", plot_accuracy_vs_bits},
      {"training.svg", plot_training},
      {"qat.svg", plot_qat},
      {"sensitivity.svg", plot_sensitivity}};
  for (const auto& [name, plot] : figures) {
    if (plot(data, out_dir / name, gnuplot)) written.push_back(name);
  }
  return written;
}

}  // namespace qx::report
