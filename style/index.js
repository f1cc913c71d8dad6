import './base.css';
import './deployments.css';
import './runs.css';
import './alerts.css';
import './artifacts.css';
