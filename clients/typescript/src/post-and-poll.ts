// `node dist/post-and-poll.js`: post an imagine → upsample2 with an Idempotency-Key, follow it to
// its end, print the job as JSON. MJW_URL (http://127.0.0.1:8000) and MJW_TOKEN name the API.
import { randomUUID } from "node:crypto";

import { ApiError, type JobRequest, mjWorker } from "./client.js";

const url = process.env.MJW_URL ?? "http://127.0.0.1:8000";
const token = process.env.MJW_TOKEN;
if (!token) {
  console.error("MJW_TOKEN: a token from `mjw tokens create TENANT` is required");
  process.exit(2);
}

const api = mjWorker(url, token);
const body: JobRequest = {
  kind: "imagine",
  prompt: process.env.MJW_PROMPT ?? "a paper boat on a pond",
  then: ["upsample2"],
  metadata: { from: "post-and-poll.ts" },
};
try {
  const key = process.env.MJW_IDEMPOTENCY_KEY ?? randomUUID();
  const made = await api.post(body, key);
  const again = await api.post(body, key); // a retry with the key: the same job, made once
  if (again.id !== made.id) throw new Error(`one key made two jobs: ${made.id}, ${again.id}`);
  const job = await api.waitFor(made.id);
  console.log(JSON.stringify(job));
  process.exit(job.status === "succeeded" ? 0 : 1);
} catch (exc) {
  console.error(exc instanceof ApiError ? `${exc.message}` : exc);
  process.exit(1);
}
