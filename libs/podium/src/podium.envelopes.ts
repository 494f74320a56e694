/** Outbound control envelopes sent on the event stream. */

export const PODIUM_CONTROL_TYPES = [
  'process_message',
  'steer',
  'interrupt',
  'answer_question',
  'permission_response',
] as const;
export type PodiumControlType = (typeof PODIUM_CONTROL_TYPES)[number];

export function isControlType(value: unknown): value is PodiumControlType {
  return typeof value === 'string' && (PODIUM_CONTROL_TYPES as readonly string[]).includes(value);
}

export type PodiumAnswers = Record<string, string | string[]> | string;

export interface ProcessMessageEnvelope {
  type: 'process_message';
  content: { text: string; turn_id: string; messages?: unknown[] };
}
export interface SteerEnvelope {
  type: 'steer';
  content: { text: string; turn_id: string };
}
export interface InterruptEnvelope {
  type: 'interrupt';
  content: { turn_id: string };
}
export interface AnswerQuestionEnvelope {
  type: 'answer_question';
  content: { request_id: string; answers: PodiumAnswers; dismissed?: boolean };
}
export interface PermissionResponseEnvelope {
  type: 'permission_response';
  content: { request_id: string; approved: boolean };
}

export type PodiumControlEnvelope =
  | ProcessMessageEnvelope
  | SteerEnvelope
  | InterruptEnvelope
  | AnswerQuestionEnvelope
  | PermissionResponseEnvelope;

/** Starts a turn. `messages` is optional prior context; the agent keeps its own conversation state. */
export function processMessage(text: string, turnId: string, messages?: unknown[]): ProcessMessageEnvelope {
  const content: ProcessMessageEnvelope['content'] = { text, turn_id: turnId };
  if (messages !== undefined) content.messages = messages;
  return { type: 'process_message', content };
}

export function steerMessage(text: string, turnId: string): SteerEnvelope {
  return { type: 'steer', content: { text, turn_id: turnId } };
}

export function interruptMessage(turnId: string): InterruptEnvelope {
  return { type: 'interrupt', content: { turn_id: turnId } };
}

export function answerQuestionMessage(
  requestId: string,
  answers: PodiumAnswers,
  dismissed?: boolean,
): AnswerQuestionEnvelope {
  const content: AnswerQuestionEnvelope['content'] = { request_id: requestId, answers };
  if (dismissed !== undefined) content.dismissed = dismissed;
  return { type: 'answer_question', content };
}

export function permissionResponse(requestId: string, approved: boolean): PermissionResponseEnvelope {
  return { type: 'permission_response', content: { request_id: requestId, approved } };
}
