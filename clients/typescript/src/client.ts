// A typed client of mj-worker's HTTP API: `paths` and `components` come from /v1/openapi.json
// (src/schema.d.ts, made by openapi-typescript: `npm run generate`), the calls from openapi-fetch.
import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "./schema.js";

export type Job = components["schemas"]["Job"];
export type Problem = components["schemas"]["Problem"];
export type JobRequest = paths["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"];

const ENDED: ReadonlySet<Job["status"]> = new Set(["succeeded", "failed", "canceled"]);

/** An API error, with the problem+json body the API answered (RFC 9457). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(`${status} ${problem?.title ?? ""}: ${problem?.detail ?? ""}`.trim());
  }
}

/** A client for one token (`mjw tokens create TENANT`). */
export function mjWorker(baseUrl: string, token: string) {
  const client = createClient<paths>({ baseUrl });
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${token}`);
      return request;
    },
  };
  client.use(auth);

  return {
    /** Make a job; send the same `idempotencyKey` again after a timeout or a 503: it finds it. */
    async post(body: JobRequest, idempotencyKey?: string): Promise<Job> {
      const { data, error, response } = await client.POST("/v1/jobs", {
        body,
        params: { header: idempotencyKey ? { "Idempotency-Key": idempotencyKey } : {} },
      });
      if (data === undefined) throw new ApiError(response.status, error as Problem | undefined);
      return data;
    },

    /** The job now, or once its status changes (long poll of at most `waitS` seconds). */
    async get(id: string, waitS = 0): Promise<Job> {
      const { data, error, response } = await client.GET("/v1/jobs/{job_id}", {
        params: { path: { job_id: id }, query: { wait: waitS } },
      });
      if (data === undefined) throw new ApiError(response.status, error as Problem | undefined);
      return data;
    },

    /** Follow a job until it ends (succeeded, failed or canceled), or until `timeoutS`. */
    async waitFor(id: string, timeoutS = 600): Promise<Job> {
      const deadline = Date.now() + timeoutS * 1000;
      let job = await this.get(id);
      while (!ENDED.has(job.status) && Date.now() < deadline) {
        job = await this.get(id, 20);
      }
      return job;
    },
  };
}
