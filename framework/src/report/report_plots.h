#pragma once
// The report's figures: gnuplot scripts with their data inline, rendered to SVG.
#include <filesystem>
#include <string>
#include <vector>

#include "report_data.h"

namespace qx::report {

// Renders a gnuplot script (terminal and output are prepended) to `svg`.
void render(const std::string& gnuplot, const std::string& body, const std::filesystem::path& svg, int width = 760,
            int height = 430);
// An inline data block, $name << EOD ... EOD.
// "set title '...'\n" from the report file's [text] "figure.<figure>", or "" where it has none.
std::string figure_title(const ReportData& data, const std::string& figure);
// "set xtics (16, 8, 4)\n": the widths drawn, widest first.
std::string xtics(std::vector<int> widths);
std::string block(const std::string& name, const std::string& rows);

// One figure each, written to `svg` when the data holds what it shows; false (nothing written)
// otherwise. The study's roles choose the cells: a report file's section re-points a role at its
// own experiment (report_sections.cpp).
bool plot_accuracy_vs_bits(const ReportData& data, const std::filesystem::path& svg, const std::string& gnuplot);
bool plot_training(const ReportData& data, const std::filesystem::path& svg, const std::string& gnuplot);
bool plot_qat(const ReportData& data, const std::filesystem::path& svg, const std::string& gnuplot);
bool plot_sensitivity(const ReportData& data, const std::filesystem::path& svg, const std::string& gnuplot);

// Writes every figure the data supports into `out_dir`; returns their file names.
std::vector<std::string> write_plots(const ReportData& data, const std::filesystem::path& out_dir,
                                     const std::string& gnuplot);

// One figure per layer with stored histograms (run/tensor_histograms.h): its weight and input
// activation distributions, with the clipping range each observer chose marked. File names start
// with `prefix`.
std::vector<std::string> write_histogram_plots(store::Database& db, const ReportData& data,
                                               const std::filesystem::path& out_dir, const std::string& gnuplot,
                                               const std::string& prefix = "");
// What those figures show, for the page that links them.
std::string histograms_caption(const ReportData& data);
// The figure write_histogram_plots() draws for a weight layer and the activation that feeds it.
std::string histogram_figure(const std::string& weight_layer, const std::string& prefix = "");

}  // namespace qx::report
