export { writeReport, describeMachine } from './write-report';
export type { WriteReportOptions, WrittenReport } from './write-report';
export { validateResults } from './results';
export type {
  ComparisonResults,
  ComparisonMeta,
  ReferenceFigure,
  MethodResult,
  MethodSpace,
  SamplerKind,
  MachineInfo,
  ScatterPanel,
  ScatterMethod,
} from './results';
export { renderSvg, fidVsStepsSpec, fidVsTimeSpec, scatterSpec } from './charts';
export type { RenderedChart } from './charts';
export { renderPage, escapeHtml } from './html';
