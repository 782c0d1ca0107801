/**
 * in-flight.lua (store.admission.inFlight) and the admission record: what counts as being in the
 * API's processing queue, and what it leaves (nothing: it only reads).
 */
import { describe, expect, it } from 'vitest';
import { item, T0, useScriptStore } from './scripts-fixture.js';

const s = useScriptStore();

const batch = (id: string, status = 'in_progress') => ({
  id,
  created_at: new Date(T0).toISOString(),
  expires_at: new Date(T0 + 86_400_000).toISOString(),
  processing_status: status,
});
const meta = (count: number) => ({
  count,
  bytes: 100 * count,
  partition: 'default',
  reason: 'manual' as const,
});

describe('in-flight.lua', () => {
  it('answers zeros on an empty store', async () => {
    expect(await s.store.admission.inFlight()).toEqual({ requests: 0, batches: 0, creating: 0, claiming: 0 });
  });

  it('counts batches in flight until the collector has seen them end, and submissions in creating', async () => {
    await s.openSubmission('sub1');
    await s.store.submissions.commit('sub1', batch('msgbatch_1'), meta(3), T0);
    await s.openSubmission('sub2');
    await s.store.submissions.commit('sub2', batch('msgbatch_2'), meta(5), T0);
    // canceling is still in the queue
    await s.store.batches.update('msgbatch_2', { status: 'canceling' });
    // a create under way (or whose answer was lost): it may be at the API
    await s.claimed('sub3', [item('a'), item('b')]);
    await s.store.submissions.update('sub3', { state: 'creating', count: 2 });
    // claiming has sent nothing yet, but its create is next (a flush that lost its lock mid-claim
    // still sends it): its claimed count is counted
    await s.claimed('sub4', [item('c')]);
    expect(await s.store.admission.inFlight()).toEqual({
      requests: 11,
      batches: 2,
      creating: 1,
      claiming: 1,
    });
    await s.store.submissions.release('sub4', { now: T0 });

    // The collector saw batch 1 end (state 'ended'): its room is free though it is still in flight.
    await s.store.batches.update('msgbatch_1', { state: 'ended', status: 'ended' });
    expect(await s.store.batches.isInflight('msgbatch_1')).toBe(true);
    expect(await s.store.admission.inFlight()).toEqual({ requests: 7, batches: 1, creating: 1, claiming: 0 });

    // An adopted orphan that had ended already never counts.
    await s.store.submissions.commit('orphan', batch('msgbatch_3', 'ended'), meta(4), T0);
    // The creating submission committed: counted once, as a batch.
    await s.store.submissions.commit('sub3', batch('msgbatch_4'), meta(2), T0);
    expect(await s.store.admission.inFlight()).toEqual({ requests: 7, batches: 2, creating: 0, claiming: 0 });

    // Collected: out of flight.
    await s.store.batches.markCollected('msgbatch_2', {}, T0);
    expect(await s.store.admission.inFlight()).toEqual({ requests: 2, batches: 1, creating: 0, claiming: 0 });
  });
});

describe('the admission record', () => {
  it('is null before the first flush, then what the last flush wrote', async () => {
    expect(await s.store.admission.last()).toBeNull();
    const r = { cap: 100, inFlight: 40, held: 7, at: T0, instance: 'b1' };
    await s.store.admission.record(r);
    await s.store.admission.record({ ...r, inFlight: 60, at: T0 + 1 });
    expect(await s.store.admission.last()).toEqual({ ...r, inFlight: 60, at: T0 + 1 });
    expect(await s.hash(s.keys.admission)).toMatchObject({ cap: '100', inFlight: '60' });
    // The rotation's turn is kept by records that leave it out.
    await s.store.admission.record({ ...r, turn: 'p2' });
    await s.store.admission.record({ ...r, held: 0 });
    expect(await s.store.admission.last()).toEqual({ ...r, held: 0, turn: 'p2' });
  });
});
