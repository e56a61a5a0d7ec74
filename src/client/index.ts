/**
 * `tributary/client`: the typed WebSocket client for dashboards, in browsers and Node. It imports
 * nothing outside src/client, so bundlers take only this folder.
 */
export { TributaryClient, ChannelSubscription, CLOSE_CODES, type TributaryClientOptions, type SubscribeOptions, type WebSocketConstructor, type SubscriptionFilter, type DataMessage, type GapMessage } from './tributary-client.ts';
