#include "report_data.h"

#include "qx/config/train_config.h"
#include "qx/core/error.h"

namespace qx::report {

ReportData load_report_data(store::Database& db, const CheckpointRef& wanted, const config::ReportLayout& layout) {
  const auto& study = layout.study;
  ReportData data;
  data.study = study;
  data.text = layout.text;
  data.checkpoint = wanted.run_uid.empty() ? store::newest_checkpoint(db) : wanted;
  auto checkpoint_cells = store::read_cells(db, data.checkpoint);
  data.test_images = checkpoint_cells.test_images;
  for (auto& cell : checkpoint_cells.cells) {
    CellRow row{std::move(cell), std::nullopt};
    if (const auto role = study.roles.find(row.experiment); role != study.roles.end()) row.role = role->second;
    data.cells.push_back(std::move(row));
  }
  if (auto run = store::read_training_run(db, data.checkpoint)) {
    TrainingRun training{std::move(*run), 0};
    try {
      training.schedule_epochs = config::load_train_config_text(training.config_text, training.config_path).epochs;
    } catch (const Error&) {
      training.schedule_epochs = 0;  // a recipe this qx cannot read: every epoch counts as the schedule's
    }
    data.training = std::move(training);
  }
  data.passes = store::read_passes(db);
  data.packed = store::read_packed(db, data.checkpoint);
  data.histograms = store::read_histograms(db, data.checkpoint);
  data.unfinished = store::read_unfinished_experiments(db);
  return data;
}

}  // namespace qx::report
