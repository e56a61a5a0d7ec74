import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import kafkajs, { Kafka, logLevel, type ISocketFactory, type KafkaConfig, type SASLOptions } from 'kafkajs';
import { secureServices, type SecureUser } from '../helpers/secure-services.ts';
import { uniqueName } from '../helpers/services.ts';

// The secured listeners of the broker scripts/services.sh starts, driven by kafkajs alone (no
// src/ code): SASL_PLAINTEXT and SASL_SSL with SCRAM-SHA-256/512 and PLAIN, mutual TLS, wrong
// credentials and an ACL that refuses the second user.

// Not among the names Node finds in kafkajs' CommonJS exports: read from its default export.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;

type Mechanism = 'scram-sha-256' | 'scram-sha-512' | 'plain';
const MECHANISMS: Mechanism[] = ['scram-sha-256', 'scram-sha-512', 'plain'];

const sasl = (mechanism: Mechanism, user: SecureUser, password = user.password()): SASLOptions =>
  ({ mechanism, username: user.name, password }) as SASLOptions;

/** A client whose sockets are counted: how many connections a failing login costs. */
function countingKafka(config: KafkaConfig): { kafka: Kafka; sockets: () => number } {
  let sockets = 0;
  const socketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
    sockets += 1;
    return ssl ? tls.connect({ host, port, ...ssl }, onConnect) : net.connect({ host, port }, onConnect);
  };
  return { kafka: new Kafka({ clientId: uniqueName('secure'), logLevel: logLevel.NOTHING, socketFactory, ...config }), sockets: () => sockets };
}

/** Creates a topic, produces 5 random values, consumes them from the start with a new group. */
async function roundTrip(config: Omit<KafkaConfig, 'clientId'>): Promise<void> {
  const kafka = new Kafka({ clientId: uniqueName('secure'), logLevel: logLevel.NOTHING, ...config });
  const topic = uniqueName('secure_topic');
  const values = Array.from({ length: 5 }, () => randomBytes(8).toString('hex'));
  const admin = kafka.admin();
  const producer = kafka.producer();
  const consumer = kafka.consumer({ groupId: uniqueName('secure_group') });
  try {
    await admin.connect();
    assert.equal(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true }), true);
    await producer.connect();
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
    const received: string[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`received ${received.length} of ${values.length} messages in 60 s`)), 60_000);
      consumer.run({
        eachMessage: async ({ message }) => {
          received.push(message.value!.toString());
          if (received.length === values.length) { clearTimeout(timer); resolve(); }
        },
      }).catch(reject);
    });
    assert.deepEqual(received, values);
  } finally {
    await consumer.disconnect().catch(() => {});
    await producer.disconnect().catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect().catch(() => {});
  }
}

test('SASL_PLAINTEXT: produce and consume as tributary with SCRAM-SHA-256, SCRAM-SHA-512 and PLAIN', { timeout: 180_000 }, async () => {
  const { kafka } = secureServices();
  for (const mechanism of MECHANISMS) {
    await roundTrip({ brokers: [kafka.saslPlaintext], sasl: sasl(mechanism, kafka.tributary) });
  }
});

test('SASL_SSL: produce and consume over TLS verified against the throwaway CA (SCRAM-SHA-512)', { timeout: 120_000 }, async () => {
  const { kafka, tls: material } = secureServices();
  await roundTrip({ brokers: [kafka.saslSsl], ssl: { ca: [material.ca] }, sasl: sasl('scram-sha-512', kafka.tributary) });
});

test('SSL: produce and consume with the client certificate (mutual TLS); without one the broker refuses the handshake', { timeout: 120_000 }, async () => {
  const { kafka, tls: material } = secureServices();
  await roundTrip({ brokers: [kafka.ssl], ssl: { ca: [material.ca], cert: material.clientCert, key: material.clientKey() } });

  const { kafka: noCert, sockets } = countingKafka({ brokers: [kafka.ssl], ssl: { ca: [material.ca] }, retry: { retries: 0 }, connectionTimeout: 5_000 });
  const admin = noCert.admin();
  await assert.rejects(admin.connect(), (error: Error) => {
    assert.match(error.message, /alert (bad certificate|certificate required|handshake failure)/);
    return true;
  });
  await admin.disconnect();
  assert.equal(sockets(), 1);
});

test('the TLS listeners present a certificate for 127.0.0.1 and localhost signed by the CA: other names and unknown CAs fail', { timeout: 60_000 }, async () => {
  const { kafka, tls: material } = secureServices();
  const [host, port] = kafka.saslSsl.split(':') as [string, string];
  const handshake = (options: tls.ConnectionOptions) => new Promise<string>((resolve) => {
    const socket = tls.connect({ host, port: Number(port), ...options }, () => { socket.destroy(); resolve('ok'); });
    socket.on('error', (error: NodeJS.ErrnoException) => { socket.destroy(); resolve(error.code ?? error.message); });
  });
  assert.equal(await handshake({ ca: [material.ca] }), 'ok'); // checked against the IP SAN 127.0.0.1
  assert.equal(await handshake({ ca: [material.ca], servername: 'localhost' }), 'ok');
  assert.equal(await handshake({ ca: [material.ca], servername: 'not-this-host.invalid' }), 'ERR_TLS_CERT_ALTNAME_INVALID');
  assert.equal(await handshake({}), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'); // the system CAs do not know it
});

test('wrong credentials fail with a SASL authentication error on the first and only connection', { timeout: 60_000 }, async () => {
  const { kafka } = secureServices();
  const cases: Array<[Mechanism, string, string, RegExp]> = [
    ['scram-sha-256', 'tributary', 'wrong-password', /^SASL SCRAM SHA256 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-256$/],
    ['scram-sha-512', 'tributary', 'wrong-password', /^SASL SCRAM SHA512 authentication failed: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512$/],
    ['plain', 'tributary', 'wrong-password', /^SASL PLAIN authentication failed: Authentication failed: Invalid username or password$/],
    ['scram-sha-256', 'intruder', kafka.tributary.password(), /invalid credentials with SASL mechanism SCRAM-SHA-256$/],
    ['scram-sha-512', uniqueName('nobody'), 'x', /invalid credentials with SASL mechanism SCRAM-SHA-512$/],
  ];
  for (const [mechanism, username, password, message] of cases) {
    const { kafka: client, sockets } = countingKafka({ brokers: [kafka.saslPlaintext], sasl: { mechanism, username, password } as SASLOptions });
    const admin = client.admin();
    await assert.rejects(admin.connect(), (error: Error) => {
      assert.equal(error.name, 'KafkaJSSASLAuthenticationError', `${mechanism} ${username}: ${error.message}`);
      assert.match(error.message, message);
      return true;
    });
    await admin.disconnect();
    assert.equal(sockets(), 1, `${mechanism} ${username}: a failed login is not retried`);
  }
});

test('ACLs: on a topic that tributary (super user) restricts to itself, tributary by password or client certificate writes, intruder authenticates but is refused', { timeout: 120_000 }, async (t) => {
  const { kafka, tls: material } = secureServices();
  const topic = uniqueName('secure_acl');
  const owner = new Kafka({ clientId: uniqueName('owner'), brokers: [kafka.saslSsl], ssl: { ca: [material.ca] }, sasl: sasl('scram-sha-256', kafka.tributary), logLevel: logLevel.NOTHING });
  const intruder = new Kafka({ clientId: uniqueName('intruder'), brokers: [kafka.saslSsl], ssl: { ca: [material.ca] }, sasl: sasl('plain', kafka.intruder), logLevel: logLevel.NOTHING, retry: { retries: 1 } });
  const acl = { resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL, principal: 'User:tributary', host: '*', operation: AclOperationTypes.ALL, permissionType: AclPermissionTypes.ALLOW };
  // Mutual TLS: the client certificate's CN=tributary is mapped to the principal User:tributary.
  const certified = new Kafka({ clientId: uniqueName('mtls'), brokers: [kafka.ssl], ssl: { ca: [material.ca], cert: material.clientCert, key: material.clientKey() }, logLevel: logLevel.NOTHING });
  const admin = owner.admin();
  const ownerProducer = owner.producer();
  const certifiedProducer = certified.producer();
  const intruderProducer = intruder.producer();
  t.after(async () => {
    await intruderProducer.disconnect().catch(() => {});
    await certifiedProducer.disconnect().catch(() => {});
    await ownerProducer.disconnect().catch(() => {});
    await admin.deleteAcls({ filters: [acl] }).catch(() => {});
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
    await admin.disconnect();
  });
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.createAcls({ acl: [acl] });
  const described = await admin.describeAcls({ resourceType: AclResourceTypes.TOPIC, resourceName: topic, resourcePatternType: ResourcePatternTypes.LITERAL, operation: AclOperationTypes.ANY, permissionType: AclPermissionTypes.ANY });
  assert.deepEqual(described.resources.map((resource) => resource.acls.map((entry) => entry.principal)), [['User:tributary']]);

  await ownerProducer.connect();
  await ownerProducer.send({ topic, messages: [{ value: 'from tributary' }] });
  await certifiedProducer.connect();
  await certifiedProducer.send({ topic, messages: [{ value: 'from the client certificate' }] });
  await intruderProducer.connect(); // authentication succeeds: the password is right
  // The producer rethrows TOPIC_AUTHORIZATION_FAILED (code 29) as a non-retriable error with its message.
  await assert.rejects(intruderProducer.send({ topic, messages: [{ value: 'from intruder' }] }), (error: Error) => {
    assert.equal(error.name, 'KafkaJSNonRetriableError', error.message);
    assert.equal(error.message, 'Not authorized to access topics: [Topic authorization failed]');
    return true;
  });
  const offsets = await admin.fetchTopicOffsets(topic);
  assert.deepEqual(offsets.map(({ partition, high }) => ({ partition, high })), [{ partition: 0, high: '2' }]);
});
