/**
 * `coding-agent`: a scripted turn that provisions a sandbox (first turn), thinks, optionally asks a
 * question or a permission, writes `hello.txt`, runs `cat hello.txt`, and summarises.
 */
import type { Turn } from '../turn';
import { estimateTokens } from '../turn';
import { oneLine, splitInto, words } from './text';
import type { Agent } from './types';

const FILE = 'hello.txt';
const COMMAND = `cat ${FILE}`;
const SYSTEM_PROMPT_TOKENS = 250;

export const codingAgent: Agent = {
  type: 'coding-agent',
  model: 'sim-coder-1',
  async run(turn) {
    if (turn.number === 1) await provisionSandbox(turn);
    const thinking = await think(turn);
    const answer = /question/i.test(turn.prompt) ? await askLanguage(turn) : undefined;
    const iteration = await writeFile(turn, FILE, fileContent(turn, answer));
    const approved = /permission/i.test(turn.prompt) ? await askPermission(turn) : true;
    if (approved) await runCommand(turn);
    for (const word of words(summary(iteration, answer, approved))) await turn.streamText(word);

    turn.usage.extraInputTokens = SYSTEM_PROMPT_TOKENS;
    turn.usage.extraOutputTokens = estimateTokens(thinking);
    turn.usage.cacheWriteTokens = turn.number === 1 ? SYSTEM_PROMPT_TOKENS : 0;
    turn.usage.cacheReadTokens = turn.number === 1 ? 0 : SYSTEM_PROMPT_TOKENS;
  },
};

async function provisionSandbox(turn: Turn): Promise<void> {
  await turn.emit('sandbox.init', { provider: 'docker' });
  await turn.emit('sandbox.provisioning', { phase: 'creating' });
  await turn.emit('sandbox.ready', {});
}

async function think(turn: Turn): Promise<string> {
  const parts = [
    `The user asks: "${oneLine(turn.prompt, 60)}". `,
    `I will write ${FILE} with a greeting, `,
    `then run \`${COMMAND}\` to check it.`,
  ];
  await turn.emit('thinking.start', {});
  for (const text of parts) await turn.emit('thinking.progress', { text });
  const full = parts.join('');
  await turn.emit('thinking.complete', { text: full });
  return full;
}

/** Asks which language to use; returns the answer, or undefined when dismissed. */
async function askLanguage(turn: Turn): Promise<string | undefined> {
  const requestId = turn.newId('req');
  const reply = await turn.request('tool.question_requested', {
    request_id: requestId,
    questions: [{ id: 'q1', question: 'Which language?', options: ['ts', 'py'], multi_select: false }],
  });
  const answers = reply.kind === 'answer_question' ? reply.answers : undefined;
  const dismissed = reply.kind === 'answer_question' && reply.dismissed;
  await turn.emit('tool.approval_resolved', {
    request_id: requestId,
    answers: answers ?? null,
    ...(dismissed ? { dismissed: true } : {}),
  });
  return dismissed ? undefined : formatAnswer(answers, 'q1');
}

async function askPermission(turn: Turn): Promise<boolean> {
  const requestId = turn.newId('req');
  const reply = await turn.request('tool.permission_requested', {
    request_id: requestId,
    tool_name: 'run_command',
    description: `Run \`${COMMAND}\` in the sandbox`,
    input: { command: COMMAND },
  });
  const approved = reply.kind === 'permission_response' && reply.approved;
  await turn.emit('tool.approval_resolved', { request_id: requestId, approved });
  return approved;
}

async function writeFile(turn: Turn, path: string, content: string): Promise<number> {
  const callId = turn.newId('call');
  const args = { path, content };
  await turn.emit('tool.call_start', { tool_call_id: callId, tool_name: 'write_file' });
  for (const delta of splitInto(JSON.stringify(args), 3)) {
    await turn.emit('tool.call_delta', { tool_call_id: callId, arguments_delta: delta });
  }
  await turn.emit('tool.call', { tool_call_id: callId, tool_name: 'write_file', arguments: args });
  const { meta, created } = turn.workspace.write(path, content);
  await turn.emit('file.changed', {
    path,
    change_type: created ? 'created' : 'modified',
    iteration: meta.iteration,
  });
  await turn.emit('tool.result', {
    tool_call_id: callId,
    tool_name: 'write_file',
    output: 'ok',
    is_error: false,
  });
  return meta.iteration;
}

async function runCommand(turn: Turn): Promise<void> {
  const callId = turn.newId('call');
  const output = turn.workspace.read(FILE)?.content ?? '';
  await turn.emit('tool.call_start', { tool_call_id: callId, tool_name: 'run_command' });
  await turn.emit('tool.call', {
    tool_call_id: callId,
    tool_name: 'run_command',
    arguments: { command: COMMAND },
  });
  const firstLineEnd = output.indexOf('\n') + 1;
  for (const data of [output.slice(0, firstLineEnd), output.slice(firstLineEnd)]) {
    await turn.emit('terminal.stream', { tool_call_id: callId, command: COMMAND, stream: 'stdout', data });
  }
  await turn.emit('terminal.complete', { tool_call_id: callId, command: COMMAND, exit_code: 0, output });
  await turn.emit('tool.result', { tool_call_id: callId, tool_name: 'run_command', output, is_error: false });
}

function fileContent(turn: Turn, answer: string | undefined): string {
  const lines = ['Hello from the coding agent!', `Turn ${turn.number}: ${oneLine(turn.prompt, 80)}`];
  if (answer !== undefined) lines.push(`Language: ${answer}`);
  return `${lines.join('\n')}\n`;
}

function summary(iteration: number, answer: string | undefined, ran: boolean): string {
  const parts = [`I wrote ${FILE} (iteration ${iteration})`];
  if (answer !== undefined) parts.push(` using your answer: ${answer}`);
  parts.push(
    ran
      ? ` and ran \`${COMMAND}\`, which printed the greeting.`
      : `, but did not run \`${COMMAND}\` because permission was denied.`,
  );
  return parts.join('');
}

/** `answers` may be a string, an array, or an object keyed by question id. */
function formatAnswer(answers: unknown, questionId: string): string {
  if (typeof answers === 'string') return answers;
  if (Array.isArray(answers)) return answers.map((a) => formatAnswer(a, questionId)).join(', ');
  if (answers && typeof answers === 'object') {
    const record = answers as Record<string, unknown>;
    if (questionId in record) return formatAnswer(record[questionId], questionId);
    return Object.values(record)
      .map((a) => formatAnswer(a, questionId))
      .join(', ');
  }
  return answers === undefined || answers === null ? '' : String(answers);
}
