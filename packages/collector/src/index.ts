/** The cost and savings report lives in the store (the board and CLI use it without the collector). */
export { type CostFigures, type CostReport, costReport } from '@nightshift/store';
export { type Collector, startCollector } from './collector.js';
export { type CollectorOptions, collectorOptionsFromConfig } from './options.js';
export type { TrackingData } from './poll.js';
export type { ApplyCounts, BatchOutcome, CollectorEvents, SweepReport } from './types.js';
