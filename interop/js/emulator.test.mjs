// The AWS SDK for JavaScript v3 against `strata emulator`: a client nobody here wrote. Its Bedrock
// client speaks HTTP/2 with prior knowledge to an http:// endpoint, so this also proves h2c.
// STRATA_BIN names the strata binary to run.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand, InvokeModelCommand, ValidationException, ThrottlingException,
} from "@aws-sdk/client-bedrock-runtime";

let emulator;
let client;

before(async () => {
  const bin = process.env.STRATA_BIN;
  assert.ok(bin, "set STRATA_BIN to the strata binary");
  emulator = spawn(bin, ["emulator", "--addr", "127.0.0.1:0", "--access-key-id", "AKIDJS", "--secret-access-key", "js-secret"], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = await once(emulator.stdout, "data");
  const url = chunk.toString().trim();
  client = new BedrockRuntimeClient({ region: "us-east-1", endpoint: url, maxAttempts: 1, credentials: { accessKeyId: "AKIDJS", secretAccessKey: "js-secret" } });
});

after(() => {
  client?.destroy();
  emulator?.kill("SIGTERM");
});

const hello = [{ role: "user", content: [{ text: "Hello from node" }] }];

test("Converse answers and quotes the prompt", async () => {
  const out = await client.send(new ConverseCommand({ modelId: "us.amazon.nova-micro-v1:0", messages: hello }));
  assert.equal(out.stopReason, "end_turn");
  assert.match(out.output.message.content[0].text, /Hello from node/);
  assert.equal(out.usage.totalTokens, out.usage.inputTokens + out.usage.outputTokens);
});

test("ConverseStream streams the same text as Converse", async () => {
  const modelId = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
  const unary = await client.send(new ConverseCommand({ modelId, messages: hello }));
  const res = await client.send(new ConverseStreamCommand({ modelId, messages: hello }));
  const kinds = [];
  let text = "";
  for await (const ev of res.stream) {
    kinds.push(Object.keys(ev)[0]);
    text += ev.contentBlockDelta?.delta?.text ?? "";
  }
  assert.equal(kinds[0], "messageStart");
  assert.deepEqual(kinds.slice(-2), ["messageStop", "metadata"]);
  assert.equal(text, unary.output.message.content[0].text);
});

test("errors surface as the SDK's typed exceptions", async () => {
  await assert.rejects(client.send(new ConverseCommand({ modelId: "no.such-model-v1:0", messages: hello })),
    (err) => err instanceof ValidationException && err.$metadata.httpStatusCode === 400 && /model identifier is invalid/.test(err.message));
});

test("a fault header yields ThrottlingException", async () => {
  const cmd = new ConverseCommand({ modelId: "us.amazon.nova-micro-v1:0", messages: hello });
  cmd.middlewareStack.add((next) => (args) => {
    args.request.headers["x-strata-emulator-fault"] = "error=ThrottlingException";
    return next(args);
  }, { step: "build" });
  await assert.rejects(client.send(cmd), (err) => err instanceof ThrottlingException && err.$metadata.httpStatusCode === 429);
});

test("InvokeModel returns a Titan embedding of the asked size", async () => {
  const out = await client.send(new InvokeModelCommand({
    modelId: "amazon.titan-embed-text-v2:0", contentType: "application/json",
    body: JSON.stringify({ inputText: "hello", dimensions: 256 }),
  }));
  const body = JSON.parse(new TextDecoder().decode(out.body));
  assert.equal(body.embedding.length, 256);
  const norm = Math.sqrt(body.embedding.reduce((s, x) => s + x * x, 0));
  assert.ok(Math.abs(norm - 1) < 1e-6, `norm ${norm}`);
});
