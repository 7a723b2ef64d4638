// Drives `frugal serve` with the official openai npm package: non-streaming and streaming chat,
// DeepSeek usage fields, 8 concurrent greedy streams equal to the same prompts run one at a time,
// errors surfaced as the client's typed errors. Loopback only; every call has a timeout.
// env: FRUGAL_BINARY (the frugal program), FRUGAL_TEST_MODEL (a GGUF with a tokenizer).
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const binary = process.env.FRUGAL_BINARY;
const model = process.env.FRUGAL_TEST_MODEL;
const apiKey = 'js-test-key';
let server;
let client;

function startServer() {
  return new Promise((resolve, reject) => {
    const proc = spawn(binary, ['serve', model, '--host', '127.0.0.1', '--port', '0', '--parallel', '4',
                                '--ctx', '512', '--api-key', apiKey, '--model-id', 'tiny'],
                       { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('server did not start: ' + out)), 60000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ proc, port: Number(m[1]) });
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited early (${code}): ${out}`)));
  });
}

before(async () => {
  assert.ok(binary && model, 'FRUGAL_BINARY and FRUGAL_TEST_MODEL must be set');
  server = await startServer();
  client = new OpenAI({ baseURL: `http://127.0.0.1:${server.port}/v1`, apiKey, timeout: 60000, maxRetries: 0 });
});

after(async () => {
  const exited = new Promise((resolve) => server.proc.on('exit', (code) => resolve(code)));
  server.proc.kill('SIGTERM');
  assert.equal(await exited, 0, 'frugal serve exits 0 on SIGTERM');
});

const prompt = (i) => [{ role: 'user', content: `Prompt number ${i}` + ' again'.repeat(i) }];

async function streamText(messages, maxTokens) {
  const stream = await client.chat.completions.create({
    model: 'tiny', messages, max_tokens: maxTokens, temperature: 0, stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      text += c.delta?.content ?? '';
      finish = c.finish_reason ?? finish;
    }
  }
  return { text, usage, finish };
}

test('non-streaming chat with DeepSeek usage fields', async () => {
  const r = await client.chat.completions.create({ model: 'tiny', messages: prompt(0), max_tokens: 5, temperature: 0 });
  assert.equal(r.object, 'chat.completion');
  assert.equal(typeof r.choices[0].message.content, 'string');
  const u = r.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(u.prompt_tokens, u.prompt_cache_hit_tokens + u.prompt_cache_miss_tokens);
  assert.equal(typeof u.completion_tokens_details.reasoning_tokens, 'number');
});

test('streaming equals non-streaming', async () => {
  const whole = await client.chat.completions.create({ model: 'tiny', messages: prompt(1), max_tokens: 8, temperature: 0 });
  const s = await streamText(prompt(1), 8);
  assert.equal(s.text, whole.choices[0].message.content);
  assert.equal(s.finish, whole.choices[0].finish_reason);
  assert.equal(s.usage.completion_tokens, whole.usage.completion_tokens);
});

test('8 concurrent streams equal the same prompts run one at a time', async () => {
  const alone = [];
  for (let i = 0; i < 8; i++) alone.push((await streamText(prompt(i), 12)).text);
  const together = await Promise.all([...Array(8).keys()].map((i) => streamText(prompt(i), 12)));
  together.forEach((r, i) => assert.equal(r.text, alone[i], `prompt ${i}`));
});

test('models and errors', async () => {
  const models = await client.models.list();
  assert.equal(models.data[0].id, 'tiny');
  await assert.rejects(
    client.chat.completions.create({ model: 'tiny', messages: prompt(0), temperature: 7 }),
    (e) => e instanceof OpenAI.BadRequestError && e.status === 400);
  const bad = new OpenAI({ baseURL: client.baseURL, apiKey: 'wrong', maxRetries: 0, timeout: 10000 });
  await assert.rejects(bad.models.list(), (e) => e instanceof OpenAI.AuthenticationError);
});
