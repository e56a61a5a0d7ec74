import { uniqueName } from './services.ts';

/** Reads `count` messages from the start of a topic with a throwaway consumer group (30 s at most). */
export async function readTopic(brokers: string[], topic: string, count: number): Promise<Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, string> }>> {
  const { Kafka, logLevel } = await import('kafkajs');
  const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: uniqueName('topic_reader') });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  const messages: Array<{ key: Buffer | null; value: Buffer | null; headers: Record<string, string> }> = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${messages.length} of ${count} messages on ${topic}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          const headers = Object.fromEntries(Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v)]));
          messages.push({ key: message.key, value: message.value, headers });
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return messages;
}
