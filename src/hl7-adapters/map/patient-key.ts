/**
 * The ordering key of a message: which patient it is about, as the sender identifies them (the
 * PID-3 repetition of the sender's preferred identifier type, value and assigning authority as
 * sent). Messages with the same key are applied one at a time in arrival order. Computed when
 * the message is stored, before mapping, so it must not depend on anything that can fail.
 */
import type { Hl7Message } from '../parse/message.ts';

export function patientKeyOf(message: Hl7Message, preferredTypes: readonly string[]): string | null {
  const pid = message.segment('PID');
  if (!pid) return null;
  const reps = pid.field(3).repetitions.filter((r) => r.component(1).trim() !== '');
  const chosen = preferredTypes.map((t) => reps.find((r) => r.component(5).toUpperCase() === t.toUpperCase())).find((r) => r !== undefined) ?? reps[0];
  return chosen ? `${chosen.component(1).trim()}^${chosen.rawComponent(4)}` : null;
}

/** Every PID-3 identifier value, for finding a patient's messages in the log. */
export function patientIdentifiersOf(message: Hl7Message): string[] {
  return message.segments('PID').flatMap((pid) => pid.field(3).repetitions.filter((r) => r.component(1).trim() !== '').map((r) => r.component(1).trim()));
}
