package admin

import (
	"errors"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Config is the "admin" section of the configuration file.
type Config struct {
	// Socket is the CLI's control socket; empty means data_dir/switchboard.sock.
	Socket string `yaml:"socket"`
	// TokenTTL is how long a login token is valid.
	TokenTTL time.Duration `yaml:"token_ttl"`
	// BcryptCost is the cost of new password hashes (4-31).
	BcryptCost int `yaml:"bcrypt_cost"`
	// LoginIPBurst failed logins from one address are allowed before throttling;
	// after that one more per LoginIPInterval.
	LoginIPBurst    int           `yaml:"login_ip_burst"`
	LoginIPInterval time.Duration `yaml:"login_ip_interval"`
	// LoginUserBurst failed logins for one username from one address are
	// allowed before that username is throttled from that address; after that
	// one more per LoginUserInterval. Other addresses are not affected, so
	// guesses from elsewhere cannot lock the user out.
	LoginUserBurst    int           `yaml:"login_user_burst"`
	LoginUserInterval time.Duration `yaml:"login_user_interval"`
	// LoginUserTotalBurst failed logins for one username from all addresses
	// together are allowed before the username is throttled everywhere; after
	// that one more per LoginUserTotalInterval. It bounds guessing spread over
	// many addresses, and is larger than LoginUserBurst, so that only such a
	// spread reaches it.
	LoginUserTotalBurst    int           `yaml:"login_user_total_burst"`
	LoginUserTotalInterval time.Duration `yaml:"login_user_total_interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		TokenTTL:          8 * time.Hour,
		BcryptCost:        12,
		LoginIPBurst:      10,
		LoginIPInterval:   30 * time.Second,
		LoginUserBurst:    5,
		LoginUserInterval: time.Minute,
		// 50 guesses from several addresses, then one a minute: about half a
		// million a year, against passwords of at least 8 characters.
		LoginUserTotalBurst:    50,
		LoginUserTotalInterval: time.Minute,
	}
}

// Validate names the first bad key (relative to the section).
func (c Config) Validate() error {
	switch {
	case c.TokenTTL < time.Minute:
		return errors.New("token_ttl: must be at least 1m")
	case c.BcryptCost < bcrypt.MinCost || c.BcryptCost > bcrypt.MaxCost:
		return errors.New("bcrypt_cost: must be between 4 and 31")
	case c.LoginIPBurst < 1:
		return errors.New("login_ip_burst: must be at least 1")
	case c.LoginIPInterval <= 0:
		return errors.New("login_ip_interval: must be positive")
	case c.LoginUserBurst < 1:
		return errors.New("login_user_burst: must be at least 1")
	case c.LoginUserInterval <= 0:
		return errors.New("login_user_interval: must be positive")
	case c.LoginUserTotalBurst < c.LoginUserBurst:
		return errors.New("login_user_total_burst: must be at least login_user_burst")
	case c.LoginUserTotalInterval <= 0:
		return errors.New("login_user_total_interval: must be positive")
	case len(c.Socket) > 100:
		return errors.New("socket: path longer than 100 bytes (unix socket limit)")
	}
	return nil
}
