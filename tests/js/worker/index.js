// Runs the shared scenarios inside workerd, importing the package exactly as a user would.
import { Client, LlmEdgeError } from "llm-edge";
import { streamingScenario } from "../scenarios.mjs";

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === "/stream") {
      const report = await streamingScenario(Client, env.MOCK_URL, url.searchParams.get("provider"));
      return Response.json(report);
    }
    if (url.pathname === "/error") {
      const client = new Client({ providers: { openai: { apiKey: "invalid-key", baseUrl: env.MOCK_URL } } });
      try {
        await client.chat({ model: "openai/gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] });
        return Response.json({ thrown: false });
      } catch (error) {
        return Response.json({ thrown: true, isLlmEdgeError: error instanceof LlmEdgeError, kind: error.kind, status: error.status });
      }
    }
    return new Response("llm-edge package test worker");
  },
};
