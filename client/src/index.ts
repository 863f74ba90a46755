export { type HealthCheckOption, type RegisterOptions, type Registration, RegistrationError, register } from './register.js';
