import { describe, expect, it } from 'vitest';
import { selectProtocols, shippedProtocols } from './protocols.ts';

const shipped = shippedProtocols();
const ids = (codes: string[]) => selectProtocols(shipped, codes).map((p) => p.id);

describe('protocol selection', () => {
  it('applies transitional care to every discharge and disease protocols by diagnosis prefix', () => {
    expect(ids([])).toEqual(['transitional-care']);
    expect(ids(['I10.x00'])).toEqual(['transitional-care', 'hypertension']);
    expect(ids(['E11.900', 'I50.900'])).toEqual(['transitional-care', 'heart-failure', 'type-2-diabetes']);
    expect(ids(['I11.000'])).toEqual(['transitional-care', 'heart-failure', 'hypertension']); // hypertensive heart disease with heart failure
    expect(ids(['J44.100'])).toEqual(['transitional-care', 'staged-programme']);
    expect(ids(['E10.900'])).toEqual(['transitional-care']); // type 1 diabetes: no type-2 protocol
  });

  it('ignores PlanDefinitions that are not active follow-up protocols', () => {
    const retired = { ...shipped.find((p) => p.id === 'hypertension')!, status: 'retired' as const };
    const orderSet = { resourceType: 'PlanDefinition' as const, id: 'order-set', status: 'active' as const, type: { coding: [{ code: 'order-set' }] } };
    expect(selectProtocols([retired, orderSet, shipped[0]!], ['I10']).map((p) => p.id)).toEqual(['transitional-care']);
  });
});
