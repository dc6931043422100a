// Typical browser use of llm-edge: a client pointed at an llm-edge proxy, one streamed chat.
// The wasm holds the complete client (three providers, every policy) whatever is imported.
import { Client } from "llm-edge";

const client = new Client({ providers: { anthropic: { baseUrl: "/api" } } });

export async function ask(prompt, onText) {
  const stream = client.stream({ model: "anthropic/claude-haiku-4-5", messages: [{ role: "user", content: prompt }] });
  for await (const event of stream) {
    if (event.type === "text-delta") onText(event.text);
    if (event.type === "error") throw event.error;
  }
}
