import assert from 'node:assert/strict';
import { RegistryHttpError } from '../../src/registry/http-error.js';

/** The status and text of the RegistryHttpError `fn` throws (fails if it throws none). */
export function refusal(fn: () => unknown): { status: number; body: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof RegistryHttpError) return { status: error.status, body: error.body };
    throw error;
  }
  assert.fail('expected a refusal');
}
