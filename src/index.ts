export { FarolError, ErrorCodes, isFarolError, type ErrorCode } from './errors.js';
export { createLogger, silentLogger, type Logger, type LoggerOptions } from './log/logger.js';
