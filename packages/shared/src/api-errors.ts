/**
 * One classification of Anthropic API errors, shared by every caller: the batcher's
 * `batches.create`, the collector's `retrieve`/`results` and the errored lines of a batch's results,
 * and both real-time paths (`messages.create` in the producer and the collector).
 *
 * It reads what the SDK reads: the HTTP status, `error.type` and `error.details.error_code`. The SDK
 * picks its error class from the same `status + error_code` pair (`ERROR_CODE_CLASSES` in its
 * `src/core/error-classes.ts`), so a decision per pair is a decision per SDK class; connection errors
 * and timeouts are told apart by their classes. Messages are never matched (their wording may change);
 * the batcher's one exception, a create 400 that names `requests.<i>`, is in its own module.
 *
 * ARCHITECTURE.md ("API errors") has the table of every code the pinned SDK declares, generated from
 * the SDK and from the decisions below by `pnpm gen:readme`.
 */
import Anthropic from '@anthropic-ai/sdk';

/** What an API error says, as far as Nightshift's reaction goes. */
export type ApiErrorFamily =
  /** The organization, workspace or key is refused (400/403 with a code, 401): an operator must act. */
  | 'account'
  /** A 403 without a code: the key may not do this call (or this request, in a result line). */
  | 'permission'
  /** Billing, or a spend limit is reached (402, spend-limit 429s, `billing_error`). */
  | 'billing'
  /** A rate or ramp limit (429): wait for `retry-after`. */
  | 'rate-limit'
  /** A coded 5xx refusal (`cmek_*` 503s): refused before anything was created; retry later. */
  | 'temporary'
  /** 413: the body is too large; nothing was created. */
  | 'too-large'
  /** The request (its params, or the body as sent) is invalid: a 400 without a code, or a content code. */
  | 'invalid'
  /** 404. */
  | 'not-found'
  /** Another definite 4xx (409, 412, 422, …). */
  | 'refused'
  /** No answer that says what happened: connection error, timeout, 5xx/529 without a code. */
  | 'ambiguous';

/** A classified API failure. */
export interface ApiFailure {
  family: ApiErrorFamily;
  /** HTTP status (for a result line: the status of its `error.type`); null when nothing answered. */
  status: number | null;
  /** `error.type` (e.g. `invalid_request_error`), or `connection_error` / `client_error`. */
  type: string;
  /** `error.details.error_code`, when the API gave one. */
  code: string | null;
  /** The API's message (or the client's, when nothing answered). Shown, never matched. */
  message: string;
  /** `retry-after-ms` / `retry-after`, when the answer had one. */
  retryAfterMs?: number;
  /** True when the status + code pair has a decision of its own (not a status default). */
  listed: boolean;
}

/** A decision for one `status error_code` pair. */
export interface CodeDecision {
  family: ApiErrorFamily;
  /** What an operator must do about it (account and billing refusals name it in the alert). */
  fix?: string;
}

const SUPPORT = 'contact Anthropic support if it is unexpected';
const CMEK = 'the workspace’s customer-managed encryption key (KMS)';

/**
 * Codes the endpoints Nightshift calls can answer (the SDK's `@throws` on `messages.batches.*` and
 * `messages.create`), plus those the issue of this classification named. Each has its own decision.
 */
export const CODE_DECISIONS: Readonly<Record<string, CodeDecision>> = Object.freeze({
  '400 organization_on_hold': {
    family: 'account',
    fix: `Anthropic disabled the organization for trust and safety reasons: appeal (details.appeal_url) or ${SUPPORT}.`,
  },
  '400 organization_type_not_supported': {
    family: 'account',
    fix: 'This organization type cannot use the Message Batches API: use an API key of a standard API organization.',
  },
  '400 parent_organization_required': {
    family: 'account',
    fix: 'The endpoint serves only organizations that belong to a parent organization: use a key of one.',
  },
  '400 workspace_human_review_disabled': {
    family: 'account',
    fix: 'The key’s workspace has Human Review turned off: turn it on in the Console, or use a key of a workspace that has it.',
  },
  '400 cmek_key_disabled': {
    family: 'account',
    fix: `Re-enable ${CMEK}; it is disabled or revoked.`,
  },
  '400 cmek_key_network_blocked': {
    family: 'account',
    fix: `Allow Anthropic through the network access controls of ${CMEK}.`,
  },
  '400 claude_code_key_creator_not_member': {
    family: 'account',
    fix: 'The key belongs to the Claude Code workspace and its creator left: create a key in a regular workspace.',
  },
  '400 claude_code_version_too_old': {
    family: 'account',
    fix: 'The key is a Claude Code key that requires a newer Claude Code: use a regular API key.',
  },
  '403 sandbox_egress_restricted': {
    family: 'account',
    fix: 'The roles run inside a Claude sandbox with restricted network access: run them outside it.',
  },
  '403 user_profile_billing_not_authorized': {
    family: 'account',
    fix: 'The customer of the user profile has not authorized billing: renew the authorization or stop naming the profile.',
  },
  '403 user_profile_not_billable': {
    family: 'account',
    fix: 'The request’s user profile cannot be billed: stop naming it, or ask the customer.',
  },
  '402 linked_organization_billing_unavailable': {
    family: 'billing',
    fix: 'The organization linked to the user profile cannot be billed: its owner must fix its billing in the Console.',
  },
  '402 linked_organization_spend_limit_reached': {
    family: 'billing',
    fix: 'The linked organization reached its spend limit or lacks credit: raise the limit or add credit.',
  },
  '429 enforced_spend_limit_reached': {
    family: 'billing',
    fix: 'The organization crossed the monthly usage threshold of its API tier: raise the tier or wait for the new month.',
  },
  '429 contract_spend_limit_reached': {
    family: 'billing',
    fix: 'The organization reached the spend limit of its contract: contact your Anthropic account team.',
  },
  '429 ramp_limit_exceeded': { family: 'rate-limit' },
  '503 cmek_context_unavailable': { family: 'temporary' },
  '503 cmek_key_unreachable': { family: 'temporary' },
  '529 compaction_unavailable': { family: 'temporary' },
  '409 skill_read_blocked_undecryptable': { family: 'temporary' },
  '413 request_body_too_large_after_decoding': { family: 'too-large' },
  '404 thread_not_found': { family: 'not-found' },
  ...Object.fromEntries(
    [
      'request_body_encoding_invalid',
      'request_body_encoding_unsupported',
      'user_profile_required',
      'available_tools_limit_exceeded',
      'image_dimensions_too_large',
      'tool_name_conflict',
      'tool_reference_unresolved',
      'thread_already_continued',
      'thread_continue_in_flight',
      'thread_fingerprint_mismatch',
      'thread_unsupported_request',
      'compaction_block_ambiguous',
      'compaction_block_misplaced',
      'compaction_content_mismatch',
      'compaction_incomplete_turn',
      'compaction_nothing_to_summarize',
      'compaction_signature_invalid',
      'compaction_too_many_tool_references',
      'compaction_tool_changes_mismatch',
    ].map((code) => [`400 ${code}`, { family: 'invalid' } satisfies CodeDecision]),
  ),
});

/**
 * Codes of endpoints Nightshift never calls (Admin, organization, files, skills, environments, …).
 * They get their status's default decision (`defaultFamily`); listing them keeps the test that every
 * code the SDK declares has a decision honest when an SDK upgrade adds one.
 */
export const CODES_NOT_ON_OUR_ENDPOINTS: readonly string[] = Object.freeze([
  ...[
    'already_member',
    'approval_required',
    'bundle_attachment_not_supported',
    'bundle_on_call',
    'cannot_invite_emails_with_unverified_domains',
    'cannot_remove_last_member',
    'cannot_sign_out_primary_owner',
    'cannot_sign_out_self',
    'cmek_feature_unsupported',
    'cmek_not_approved',
    'email_domain_not_allowed',
    'environment_archived',
    'external_key_in_workspace_policy',
    'external_key_not_found',
    'external_key_provider_mismatch',
    'external_key_validation_failed',
    'external_key_validation_timed_out',
    'external_storage_in_use',
    'external_storage_in_workspace_policy',
    'external_storage_not_available',
    'file_not_downloadable',
    'gcp_project_not_verified',
    'grant_required',
    'human_review_not_available',
    'human_review_on_with_external_storage',
    'invalid_config_type_change',
    'invalid_metadata',
    'invalid_storage_arn',
    'invite_already_exists',
    'key_profile_mismatch',
    'org_api_key_limit_exceeded',
    'org_member_limit_exceeded',
    'organization_not_eligible',
    'organization_not_enrolled_in_beta',
    'provider_not_allowed',
    'rbac_group_grants_owner_access',
    'rbac_group_order_limit_exceeded',
    'rbac_group_owner_access_unconfirmed',
    'region_not_supported',
    'request_body_timeout',
    'scan_failed',
    'settings_document_limit_exceeded',
    'settings_history_limit_exceeded',
    'slack_channel_set_up_settings_refused',
    'storage_attach_limit_reached',
    'storage_not_approved',
    'storage_not_attachable',
    'storage_profile_mismatch',
    'storage_profile_still_required',
    'storage_quota_exceeded',
    'storage_verification_failed',
    'transcripts_storage_required',
    'unsupported_charset',
    'unsupported_region',
    'user_profile_not_found',
    'workspace_api_key_limit_exceeded',
    'workspace_member_limit_exceeded',
    'workspace_policy_violation',
  ].map((c) => `400 ${c}`),
  ...[
    'api_key_scope_missing',
    'cannot_sign_out_managed_member',
    'cannot_sign_out_membership_admin',
    'cannot_sign_out_owner',
    'cannot_sign_out_privileged_member',
    'claude_tag_writes_not_enabled',
    'compliance_configuration_restricted',
    'environment_create_disabled',
    'environment_update_disabled',
    'organization_level_scoped_api_key_required',
    'spend_limits_admin_api_writes_not_enabled',
  ].map((c) => `403 ${c}`),
  ...[
    'environment_not_found',
    'file_expired',
    'rbac_group_managed_settings_not_found',
    'rbac_group_not_found',
    'rbac_role_not_found',
    'slack_channel_set_up_environment_not_found',
  ].map((c) => `404 ${c}`),
  ...[
    'concurrent_membership_change',
    'external_key_changed',
    'gcp_project_controlled_by_another_organization',
    'plugin_name_taken',
    'scan_pending',
    'skill_name_taken',
    'slack_channel_set_up_settings_conflict',
    'storage_already_registered',
    'storage_attached_during_archive',
    'storage_changed_concurrently',
    'storage_in_use',
    'workspace_changed_concurrently',
  ].map((c) => `409 ${c}`),
  '412 heartbeat_precondition_failed',
  ...[
    'authorization_check_unavailable',
    'change_outcome_unknown',
    'registration_pending',
    'workspace_created_incomplete',
  ].map((c) => `503 ${c}`),
]);

/**
 * The decision for a status (and whether a code came with it) that has none of its own. A code on a
 * 400/403 is about the organization, workspace or key unless listed otherwise; a code on a 5xx does
 * not prove the call was refused before it had an effect, so it stays ambiguous.
 */
export function defaultFamily(status: number | null, hasCode: boolean): ApiErrorFamily {
  if (status === null) return 'ambiguous';
  if (status === 400) return hasCode ? 'account' : 'invalid';
  if (status === 401) return 'account';
  if (status === 402) return 'billing';
  if (status === 403) return hasCode ? 'account' : 'permission';
  if (status === 404) return 'not-found';
  if (status === 408) return 'ambiguous';
  if (status === 413) return 'too-large';
  if (status === 429) return 'rate-limit';
  if (status >= 500) return 'ambiguous';
  return 'refused';
}

/** The status the API pairs with each `error.type` (platform.claude.com/docs/en/api/errors). */
const STATUS_OF_TYPE: Readonly<Record<string, number>> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

function decide(
  status: number | null,
  type: string,
  code: string | null,
): Omit<CodeDecision, 'fix'> & {
  listed: boolean;
} {
  const own = code !== null && status !== null ? CODE_DECISIONS[`${status} ${code}`] : undefined;
  if (own) return { family: own.family, listed: true };
  // `billing_error` is billing whatever the status it came with.
  if (type === 'billing_error') return { family: 'billing', listed: false };
  return { family: defaultFamily(status, code !== null), listed: false };
}

/** Classifies anything a call to the SDK threw. */
export function classifyApiError(err: unknown): ApiFailure {
  if (!(err instanceof Anthropic.APIError)) {
    // Thrown by our code or the runtime around the call: nothing says whether the request went out.
    const message = err instanceof Error ? err.message : String(err);
    return { family: 'ambiguous', status: null, type: 'client_error', code: null, message, listed: false };
  }
  const message = err.apiMessage ?? err.message;
  if (err instanceof Anthropic.APIConnectionError || err.status === undefined) {
    // APIConnectionTimeoutError is a subclass; an aborted call (APIUserAbortError) has no status.
    return {
      family: 'ambiguous',
      status: null,
      type: 'connection_error',
      code: null,
      message,
      listed: false,
    };
  }
  const status = err.status;
  const type = err.type ?? `http_${status}`;
  const code = err.errorCode;
  const d = decide(status, type, code);
  const wait = retryAfterMs(err.headers);
  return { ...d, status, type, code, message, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
}

/** The error of an errored result line: `{ type, message, details?: { error_code } }`. */
export interface ResultError {
  type?: string | null;
  message?: string | null;
  details?: { error_code?: unknown } | null;
}

/** Classifies the error of an errored result line (it has a type, no status: the type's status is used). */
export function classifyResultError(error: ResultError | null | undefined): ApiFailure {
  const type = error?.type || 'api_error';
  const raw = error?.details?.error_code;
  const code = typeof raw === 'string' && raw !== '' ? raw : null;
  const status = STATUS_OF_TYPE[type] ?? null;
  return { ...decide(status, type, code), status, type, code, message: error?.message ?? '' };
}

/** The operator's fix for a failure: the code's own, or one per family. */
export function fixFor(f: ApiFailure): string {
  const own = f.code !== null && f.status !== null ? CODE_DECISIONS[`${f.status} ${f.code}`]?.fix : undefined;
  if (own) return own;
  switch (f.family) {
    case 'account':
      return f.status === 401
        ? 'The API key is refused: check ANTHROPIC_API_KEY (revoked, mistyped, or of another organization).'
        : `The API refuses this organization, workspace or key (${f.code ?? f.type}): fix it in the Console or ${SUPPORT}.`;
    case 'permission':
      return 'The API key may not call the Message Batches API: give it the permission in the Console or use another key.';
    case 'billing':
      return 'Fix billing in the Console (credit, payment method, spend limits); the circuit probes with a growing interval.';
    case 'invalid':
      return 'The API refused the call without naming a request (a workspace spend limit you set answers this way): read the message, fix the cause, then close the circuit.';
    case 'rate-limit':
    case 'temporary':
    case 'too-large':
    case 'not-found':
    case 'refused':
    case 'ambiguous':
      return 'Nothing to fix by hand: Nightshift retries with backoff.';
    default:
      return assertNever(f.family);
  }
}

/** `code` when the API gave one, else the error type: the short name shown on the board and in metrics. */
export const failureName = (f: Pick<ApiFailure, 'code' | 'type'>): string => f.code ?? f.type;

/** `{ type, message, code? }` as records and dead letters keep an error. */
export function describeFailure(f: ApiFailure): { type: string; message: string; code?: string } {
  return { type: f.type, message: f.message, ...(f.code ? { code: f.code } : {}) };
}

/** Why submissions stop: a refusal of the account, or billing / a spend limit. */
export type CircuitKind = 'account' | 'billing';

/** What opening the submission circuit records (see Store.openCircuit). */
export interface CircuitOpening {
  kind: CircuitKind;
  /** The error code, or the error type when the API gave no code (e.g. `invalid_request_error`). */
  code: string;
  /** What the API answered: status, code and message. */
  reason: string;
  /** What an operator must fix. */
  fix: string;
}

/**
 * The circuit a refusal opens: billing for the billing family, account for everything else that
 * refuses the call itself (callers decide which families do; see ARCHITECTURE.md "API errors").
 */
export function circuitFor(f: ApiFailure): CircuitOpening {
  const code = failureName(f);
  const head = f.status === null ? code : `${f.status} ${code}`;
  return {
    kind: f.family === 'billing' ? 'billing' : 'account',
    code,
    reason: f.message ? `${head}: ${f.message}` : head,
    fix: fixFor(f),
  };
}

/**
 * What a failed real-time `messages.create` means for its request (the producer's and the
 * collector's real-time paths follow it alike). The Messages API validates params at once, so an
 * invalid, too large or unknown-model answer is about the request: dead. An account, key or billing
 * refusal is not: the request stays `realtime` for the sweep to call again and submissions stop.
 * Anything transient is called again by the sweep.
 */
export function realtimeAction(f: ApiFailure): 'dead' | 'retry' | 'stop-submissions' {
  switch (f.family) {
    case 'account':
    case 'permission':
    case 'billing':
      return 'stop-submissions';
    case 'invalid':
    case 'too-large':
    case 'not-found':
    case 'refused':
      return 'dead';
    case 'rate-limit':
    case 'temporary':
    case 'ambiguous':
      return 'retry';
    default:
      return assertNever(f.family);
  }
}

export function assertNever(x: never): never {
  throw new Error(`unexpected value ${JSON.stringify(x)}`);
}

/** `retry-after-ms` first, then `retry-after` (seconds or an HTTP date), as the SDK reads them. */
function retryAfterMs(headers: Headers | undefined): number | undefined {
  const ms = Number(headers?.get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const raw = headers?.get('retry-after');
  if (!raw) return undefined;
  const sec = Number(raw);
  if (Number.isFinite(sec) && sec > 0) return sec * 1000;
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}
