/**
 * Whether a call goes on to another try, as a pure function of what the last try gave, the tries
 * made, the deadline and the retry budget. The stages feed it facts and carry the answer out.
 */
import { isIdempotentMethod, isRetryableStatus } from './retry-policy.js';

/** What one try gave, as far as the decision cares. */
export type TryOutcome =
  /** An HTTP response (not yet handed to the caller). `retryAfterMs` from a 503's Retry-After. */
  | { kind: 'response'; status: number; retryAfterMs?: number | undefined }
  /** No response. `neverSent`: no byte of the request can have reached the instance. */
  | { kind: 'failure'; neverSent: boolean; aborted?: boolean };

export interface RetryFacts {
  outcome: TryOutcome;
  method: string;
  /** False for a body that is a stream: it has been consumed by the try and cannot be sent again. */
  bodyReplayable: boolean;
  /** Tries made so far, this one included (1 after the first). */
  triesMade: number;
  /** Further tries allowed after the first. */
  retries: number;
  retryOn?: readonly number[] | undefined;
  /** Retry non-idempotent methods after a failure or status that may have reached the instance. */
  nonIdempotent: boolean;
  /** Milliseconds (any monotonic clock, the same as `deadline`). */
  now: number;
  deadline: number;
  /** The pause the caller would take before the next try, ms. */
  pauseMs: number;
  /** Whether the retry budget has a retry to give (the caller withdraws it on 'retry'). */
  budgetAvailable: boolean;
}

export type StopReason = 'not retryable' | 'no retries left' | 'deadline' | 'retry budget spent';

export type RetryDecision = { retry: true; pauseMs: number } | { retry: false; reason: StopReason; retryable: boolean };

/** Whether the outcome is worth another instance at all, budget and deadline aside. */
export function isRetryableOutcome(facts: Pick<RetryFacts, 'outcome' | 'method' | 'bodyReplayable' | 'retryOn' | 'nonIdempotent'>): boolean {
  const { outcome } = facts;
  if (outcome.kind === 'failure') {
    if (outcome.aborted === true) return false;
    if (outcome.neverSent) return true;
    return facts.bodyReplayable && (isIdempotentMethod(facts.method) || facts.nonIdempotent);
  }
  return facts.bodyReplayable && isRetryableStatus(outcome.status, facts.retryOn) && (isIdempotentMethod(facts.method) || facts.nonIdempotent);
}

export function decideRetry(facts: RetryFacts): RetryDecision {
  if (!isRetryableOutcome(facts)) return { retry: false, reason: 'not retryable', retryable: false };
  if (facts.triesMade > facts.retries) return { retry: false, reason: 'no retries left', retryable: true };
  const pauseMs = Math.max(0, facts.pauseMs);
  if (!(facts.now + pauseMs < facts.deadline)) return { retry: false, reason: 'deadline', retryable: true };
  if (!facts.budgetAvailable) return { retry: false, reason: 'retry budget spent', retryable: true };
  return { retry: true, pauseMs };
}
