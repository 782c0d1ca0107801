import { canonicalJson, sha256Hex } from '@nightshift/shared';
import { describe, expect, it } from 'vitest';
import { groupKey } from '../src/group.js';

const cc = { type: 'ephemeral' };
const user = (...content: object[]) => ({ role: 'user', content });
const text = (t: string, mark = false) => ({ type: 'text', text: t, ...(mark ? { cache_control: cc } : {}) });

describe('groupKey (the documented rule)', () => {
  it('hashes partition, model and canonical {tools, system} when nothing is marked', () => {
    const params = { system: 'S', messages: [user(text('a'))], model: 'm', max_tokens: 1 };
    const expected = sha256Hex(`p\nm\n${canonicalJson({ system: 'S' })}`).slice(0, 16);
    expect(groupKey('p', 'm', params)).toBe(expected);
    expect(groupKey('p', 'm', { ...params, messages: [user(text('b'))] })).toBe(expected);
  });

  it('cuts after the last marked block, in the order tools → system → messages', () => {
    const tools = [{ name: 't1', input_schema: {}, cache_control: cc }];
    const system = [text('S1', true), text('S2')];
    const marked = { tools, system, messages: [user(text('doc', true), text('q1'))] };
    const cut = { tools, system, messages: [user(text('doc', true))] };
    expect(groupKey('p', 'm', marked)).toBe(sha256Hex(`p\nm\n${canonicalJson(cut)}`).slice(0, 16));
    // The question after the breakpoint does not matter; the document before it does.
    expect(groupKey('p', 'm', { ...marked, messages: [user(text('doc', true), text('q2'))] })).toBe(
      groupKey('p', 'm', marked),
    );
    expect(groupKey('p', 'm', { ...marked, messages: [user(text('other', true), text('q1'))] })).not.toBe(
      groupKey('p', 'm', marked),
    );
  });

  it('cuts inside system or tools when the last breakpoint is there', () => {
    const system = [text('S1', true), text('varies-1')];
    const a = groupKey('p', 'm', { system, messages: [user(text('x'))] });
    expect(
      groupKey('p', 'm', { system: [text('S1', true), text('varies-2')], messages: [user(text('y'))] }),
    ).toBe(a);
    const tools = (extra: string) => [{ name: 'a', cache_control: cc }, { name: extra }];
    expect(groupKey('p', 'm', { tools: tools('b'), system: 'S' })).toBe(
      groupKey('p', 'm', { tools: tools('c') }),
    );
  });

  it('counts a breakpoint nested in a block’s content (tool_result)', () => {
    const result = (id: string) => ({ type: 'tool_result', tool_use_id: id, content: [text('R', true)] });
    const a = groupKey('p', 'm', { messages: [user(result('1'), text('q1'))] });
    expect(groupKey('p', 'm', { messages: [user(result('1'), text('q2'))] })).toBe(a);
    expect(groupKey('p', 'm', { messages: [user(result('2'), text('q1'))] })).not.toBe(a);
  });

  it('never answers from its memo for a changed system prompt', () => {
    const system = [text('A')];
    const a = groupKey('p', 'm', { system, messages: [] });
    system[0] = text('B');
    expect(groupKey('p', 'm', { system, messages: [] })).not.toBe(a);
    expect(groupKey('p', 'm', { system: 'X' })).not.toBe(groupKey('p', 'm', { system: 'Y' }));
    expect(groupKey('p', 'm', { system: 'X' })).toBe(groupKey('p', 'm', { system: 'X' }));
  });
});
