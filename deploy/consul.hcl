# Consul agent settings for docker-compose.yml: HTTPS health checks of Farol instances are
# verified against the Farol CA (never TLSSkipVerify). The agent sees the CA certificate only,
# read-only (volume farol-trust); never the CA's private key.
enable_agent_tls_for_checks = true
tls {
  defaults {
    ca_file = "/farol/trust/ca.pem"
  }
}
