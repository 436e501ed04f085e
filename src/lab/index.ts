export { DEFAULT_SCENARIO } from './default-scenario.js';
export type { FormatOptions } from './format-terminal.js';
export { describeConfig, describeWorkload, formatReport } from './format-terminal.js';
export { renderHtml } from './report-html.js';
export {
  parseScenario,
  parseScenarioJson,
  ScenarioError,
} from './scenario.js';
export type { ItemEvent, SimulateOptions } from './simulate.js';
export { MAX_ITEMS, MAX_SAMPLES, simulate } from './simulate.js';
export type {
  Arrivals,
  ConfigReport,
  ConsumerSpec,
  Duration,
  LabReport,
  LatencySummary,
  LimiterSpec,
  PipeConfig,
  ProducerSpec,
  Scenario,
} from './types.js';
