// The Vercel AI SDK with what llm-edge's wasm always carries: streamText and generateText with
// the Anthropic, OpenAI and Google providers.
import { generateText, streamText } from "ai";
import { createAnthropic } from "@ai-sdk/anthropic";
import { createOpenAI } from "@ai-sdk/openai";
import { createGoogleGenerativeAI } from "@ai-sdk/google";

const providers = {
  anthropic: createAnthropic({ baseURL: "/api", apiKey: "unused" })("claude-haiku-4-5"),
  openai: createOpenAI({ baseURL: "/api", apiKey: "unused" }).chat("gpt-4o-mini"),
  gemini: createGoogleGenerativeAI({ baseURL: "/api", apiKey: "unused" })("gemini-2.5-flash"),
};

export async function ask(provider, prompt, onText) {
  const result = streamText({ model: providers[provider], prompt });
  for await (const text of result.textStream) onText(text);
}

export async function answer(provider, prompt) {
  return (await generateText({ model: providers[provider], prompt })).text;
}
