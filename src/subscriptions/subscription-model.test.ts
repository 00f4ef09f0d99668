import type { Subscription } from '@medplum/fhirtypes';
import { describe, expect, it } from 'vitest';
import { parseSubscription, RETRY_HORIZON_EXTENSION, SECRET_EXTENSION } from './subscription-model.ts';

const types = new Set(['Observation', 'Patient']);
const isType = (t: string) => types.has(t);
const checkSearch = (_t: string, p: URLSearchParams) => (p.has('colour') ? 'unknown parameter colour' : undefined);
const sub = (extra: Partial<Subscription>): Subscription => ({
  resourceType: 'Subscription', id: 's1', status: 'requested', reason: 'r', criteria: 'Observation?code=x', channel: { type: 'rest-hook', endpoint: 'https://h.example/hook' }, ...extra,
});

describe('parseSubscription', () => {
  it('reads criteria, channel, headers, payload and extensions', () => {
    const parsed = parseSubscription(
      sub({
        channel: { type: 'rest-hook', endpoint: 'https://h.example/hook', header: ['Authorization: Bearer a:b', 'X-Trace:1'], payload: 'application/fhir+json; fhirVersion=4.0' },
        extension: [{ url: RETRY_HORIZON_EXTENSION, valueInteger: 60 }, { url: SECRET_EXTENSION, valueString: 'k' }],
      }),
      isType,
      checkSearch,
    );
    expect(parsed.ok && parsed.subscription).toMatchObject({
      criteria: { resourceType: 'Observation' },
      channel: { type: 'rest-hook', endpoint: 'https://h.example/hook', headers: [['Authorization', 'Bearer a:b'], ['X-Trace', '1']], payload: 'application/fhir+json; fhirVersion=4.0' },
      retryHorizonSeconds: 60,
      secret: 'k',
    });
    expect(parsed.ok && parsed.subscription.criteria.params.get('code')).toBe('x');
  });

  it('names the problem with what it cannot serve', () => {
    const problem = (extra: Partial<Subscription>) => {
      const p = parseSubscription(sub(extra), isType, checkSearch);
      return p.ok ? undefined : p.problem;
    };
    expect(problem({ criteria: 'Unicorn?x=1' })).toMatch(/resource type/);
    expect(problem({ criteria: 'Observation?colour=red' })).toMatch(/criteria: unknown parameter colour/);
    expect(problem({ criteria: 'http://hl7.org/SubscriptionTopic/x' })).toMatch(/is not served here/);
    expect(problem({ channel: { type: 'email', endpoint: 'mailto:a@b' } })).toMatch(/"email" is not supported/);
    expect(problem({ channel: { type: 'websocket', payload: 'application/fhir+json' } })).toMatch(/no payload/);
    expect(problem({ channel: { type: 'rest-hook', endpoint: 'not a url' } })).toMatch(/not an absolute URL/);
    expect(problem({ channel: { type: 'rest-hook', endpoint: 'https://h/x', header: ['no colon'] } })).toMatch(/Name: value/);
    expect(problem({ channel: { type: 'rest-hook', endpoint: 'https://h/x', payload: 'text/xml' } })).toMatch(/payload/);
    expect(problem({ extension: [{ url: RETRY_HORIZON_EXTENSION, valueInteger: 0 }] })).toMatch(/retry-horizon/);
  });
});

describe('endpoint allow-list', () => {
  it('allows any endpoint when empty, else only the listed prefixes', () => {
    const parse = (endpoint: string, allow: string[]) => parseSubscription(sub({ channel: { type: 'rest-hook', endpoint } }), isType, checkSearch, allow);
    expect(parse('http://127.0.0.1:9/x', []).ok).toBe(true);
    expect(parse('https://partner.example.org/hooks/a', ['https://partner.example.org/']).ok).toBe(true);
    const refused = parse('https://evil.example/x', ['https://partner.example.org/']);
    expect(!refused.ok && refused.problem).toMatch(/not allowed on this server \(allowed: https:\/\/partner.example.org\/\)/);
  });
});
