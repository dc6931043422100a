// The same use with the official @anthropic-ai/sdk (one provider).
import Anthropic from "@anthropic-ai/sdk";

const anthropic = new Anthropic({ baseURL: "/api", apiKey: "unused", dangerouslyAllowBrowser: true });

export async function ask(prompt, onText) {
  const stream = anthropic.messages.stream({ model: "claude-haiku-4-5", max_tokens: 1024, messages: [{ role: "user", content: prompt }] });
  for await (const event of stream) {
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") onText(event.delta.text);
  }
}
