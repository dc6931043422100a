// The same use with the Vercel AI SDK: streamText and the Anthropic provider.
import { streamText } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";

const anthropic = createAnthropic({ baseURL: "/api", apiKey: "unused" });

export async function ask(prompt, onText) {
  const result = streamText({ model: anthropic("claude-haiku-4-5"), prompt });
  for await (const text of result.textStream) onText(text);
}
