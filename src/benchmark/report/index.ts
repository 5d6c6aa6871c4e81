// The GV-B report: tables (mean ± std over seeds), the paper's claims decided from the rows,
// inline SVG charts; written as report.md, report.html and results.json.
export { writeReport, REPORT_FILES } from './write'
export { renderMarkdown } from './markdown'
export { renderHtml } from './html'
export {
  evaluateClaims,
  compare,
  CRITERION,
  type Claim,
  type ClaimStatus,
  type Comparison,
  type Side,
  type Test,
} from './claims'
export {
  meanStd,
  cellStats,
  classificationAverage,
  formatStats,
  formatValue,
  taskType,
  methodLabel,
  KNOWN_METHODS,
  type Stats,
  type Setting,
} from './summary'
