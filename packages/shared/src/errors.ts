/**
 * One error class with a string code, plus subclasses where callers branch.
 * Messages are sentences that name the field, custom_id, batch or setting, and the fix.
 */
export type ErrorCode =
  | 'VALIDATION'
  | 'MODEL_RETIRED'
  | 'CONFLICT'
  | 'DEADLINE_TOO_SOON'
  | 'CONFIG'
  | 'REDIS_UNAVAILABLE'
  | 'INVALID_STATE'
  | 'BUDGET_EXCEEDED'
  | 'STORE_LAYOUT';

export class NightshiftError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NightshiftError';
    this.code = code;
  }
}

/** One problem with one field of one item. */
export interface FieldIssue {
  /** Index in `enqueueMany` input (absent for single enqueue). */
  index?: number;
  /** Path of the field, e.g. `params.max_tokens`. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

/** Bad input: nothing was written. `issues` lists every problem found. */
export class ValidationError extends NightshiftError {
  readonly issues: FieldIssue[];
  constructor(issues: FieldIssue[], code: 'VALIDATION' | 'MODEL_RETIRED' = 'VALIDATION') {
    super(code, formatIssues(issues));
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/** A retired model and what replaces it. */
export interface RetiredModel {
  model: string;
  /** The day it stopped answering (yyyy-mm-dd). */
  retiredOn: string;
  /** The model Anthropic recommends instead, when the table names one. */
  replacement?: string;
}

/**
 * A request names a model the API no longer serves: nothing was enqueued. It is a ValidationError
 * (`issues` names `params.model` of each request) with code `MODEL_RETIRED` and the retired models.
 */
export class ModelRetiredError extends ValidationError {
  readonly retired: RetiredModel[];
  constructor(issues: FieldIssue[], retired: RetiredModel[]) {
    super(issues, 'MODEL_RETIRED');
    this.name = 'ModelRetiredError';
    this.retired = retired;
  }
}

function formatIssues(issues: FieldIssue[]): string {
  const lines = issues.slice(0, 20).map((i) => {
    const where = i.index === undefined ? i.field : `requests[${i.index}].${i.field}`;
    return `${where}: ${i.message}`;
  });
  if (issues.length > 20) lines.push(`… and ${issues.length - 20} more`);
  const head = issues.length === 1 ? 'Invalid request' : `${issues.length} invalid fields`;
  return `${head}; nothing was enqueued.\n  ${lines.join('\n  ')}`;
}

/** The same custom_id is already known with different params. Nothing changed. */
export class ConflictError extends NightshiftError {
  readonly conflicts: { index?: number; customId: string; state: string }[];
  constructor(conflicts: { index?: number; customId: string; state: string }[]) {
    const list = conflicts
      .slice(0, 10)
      .map((c) => `${c.customId} (${c.state})`)
      .join(', ');
    super(
      'CONFLICT',
      `custom_id already enqueued with different params: ${list}${conflicts.length > 10 ? ', …' : ''}. ` +
        'Use a new key for new work, or pass { replace: true } to replace a request that is still only queued.',
    );
    this.name = 'ConflictError';
    this.conflicts = conflicts;
  }
}

/** The deadline cannot be met by the batch path (24 h + slack) and no real-time path was chosen. */
export class DeadlineTooSoonError extends NightshiftError {
  readonly customIds: string[];
  constructor(customIds: string[], detail: string) {
    super(
      'DEADLINE_TOO_SOON',
      `${detail} Batches may take up to 24 h; give a later deadline, or enqueue with { realtime: 'fallback' } ` +
        'to send such requests through the Messages API at standard price.',
    );
    this.name = 'DeadlineTooSoonError';
    this.customIds = customIds;
  }
}

/** Configuration is invalid (an environment setting or an option of a create/start function): nothing starts. */
export class ConfigError extends NightshiftError {
  constructor(message: string) {
    super('CONFIG', message);
    this.name = 'ConfigError';
  }
}
