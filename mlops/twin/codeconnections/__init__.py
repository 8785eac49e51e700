"""CodeConnections in the twin: connections (moto has none) and the connected repository a
connection stands for, a local bare git repository whose pushes reach the twin as the
provider's webhook would."""
