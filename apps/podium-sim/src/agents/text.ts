/** Small text helpers shared by the scripted agents. */

/** Splits text into at most ~64 chunks of at least 4 characters, never inside a surrogate pair. */
export function chunkText(text: string): string[] {
  const chars = Array.from(text);
  const size = Math.max(4, Math.ceil(chars.length / 64));
  const chunks: string[] = [];
  for (let i = 0; i < chars.length; i += size) chunks.push(chars.slice(i, i + size).join(''));
  return chunks;
}

/** Words with their trailing whitespace, so the pieces concatenate back to the input. */
export function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}

/** Splits text into `parts` contiguous, non-empty pieces (fewer if the text is shorter). */
export function splitInto(text: string, parts: number): string[] {
  const chars = Array.from(text);
  const size = Math.max(1, Math.ceil(chars.length / parts));
  const pieces: string[] = [];
  for (let i = 0; i < chars.length; i += size) pieces.push(chars.slice(i, i + size).join(''));
  return pieces;
}

/** First line of a text, shortened to `max` characters. */
export function oneLine(text: string, max: number): string {
  const line = text.split('\n', 1)[0].trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
