// The same use with the official openai SDK (one provider).
import OpenAI from "openai";

const openai = new OpenAI({ baseURL: "/api", apiKey: "unused", dangerouslyAllowBrowser: true });

export async function ask(prompt, onText) {
  const stream = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: prompt }], stream: true });
  for await (const chunk of stream) onText(chunk.choices[0]?.delta?.content ?? "");
}
